"""The saved-model directory: the only module that knows its file names.

A directory saved by ner_bert is a plain Hugging Face token-classification checkpoint
(``config.json`` with real ``id2label``/``label2id``, ``model.safetensors``, tokenizer files),
so ``transformers.pipeline("token-classification", model=path)`` loads it, plus one small
``ner_bert.json`` metadata file (library version, tag scheme, max length, training config,
final metrics, context settings) and a model card, ``README.md``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataNotFoundError, ModelLoadError
from ..labels import LabelSet
from .atomic import atomic_write_text, check_can_write_beside, file_manifest, staged_folder
from .card import model_card
from .quiet import transformers_bars_off

__all__ = [
    "CARD_FILE",
    "CHECKPOINT_PREFIX",
    "CONFIG_FILE",
    "METADATA_FILE",
    "ONNX_FILE",
    "PICKLE_WEIGHTS_FILES",
    "RESUME_STATE_FILES",
    "RUN_RECORD_FILE",
    "SHARDED_WEIGHTS_FILE",
    "TOKENIZER_FILES",
    "TRAINER_OUTPUTS",
    "TRAINER_STATE_FILE",
    "WEIGHTS_FILE",
    "check_checkpoint_dir",
    "check_folders_apart",
    "check_output_dir",
    "check_run_dirs",
    "checkpoint_step",
    "find_checkpoint",
    "is_onnx_export",
    "list_checkpoints",
    "read_metadata",
    "save_model",
    "write_card_and_metadata",
    "write_metadata",
]

logger = logging.getLogger(__name__)

METADATA_FILE = "ner_bert.json"
CARD_FILE = "README.md"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
# An ONNX export (ner-bert export): the graph with its weights, in place of WEIGHTS_FILE.
ONNX_FILE = "model.onnx"

# Files of a model folder that hold a tokenizer's vocabulary (at least one must be there).
TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "spm.model",
    "tokenizer.model",
)
SHARDED_WEIGHTS_FILE = "model.safetensors.index.json"
# Pickle weights: never loaded (they can run code); named in the error that says so.
PICKLE_WEIGHTS_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")

# Training checkpoints are transformers.Trainer's: <checkpoint_dir>/checkpoint-<step>/.
CHECKPOINT_PREFIX = "checkpoint-"
TRAINER_STATE_FILE = "trainer_state.json"
# What a checkpoint needs beside the weights to continue exactly (the Trainer's names).
RESUME_STATE_FILES = ("optimizer.pt", "scheduler.pt")
# ner_bert's record of the run in each checkpoint: settings, labels, data fingerprint.
RUN_RECORD_FILE = "ner_bert_run.json"
# What transformers.Trainer may write next to its checkpoints (TensorBoard runs, its args).
TRAINER_OUTPUTS = ("runs", "training_args.bin", "README.md")


def write_metadata(directory: Path, metadata: dict[str, Any]) -> None:
    """Write ``ner_bert.json`` into ``directory``."""
    atomic_write_text(Path(directory) / METADATA_FILE, json.dumps(metadata, indent=2) + "\n")


def is_onnx_export(metadata: dict[str, Any] | None) -> bool:
    """Whether a folder's ``ner_bert.json`` says it is an ONNX export (``"runtime": "onnx"``).

    Example:
        >>> is_onnx_export({"runtime": "onnx"}), is_onnx_export(None)
        (True, False)
    """
    return isinstance(metadata, dict) and metadata.get("runtime") == "onnx"


def write_card_and_metadata(staging: Path, meta: dict[str, Any], *, name: str) -> None:
    """The last step of every save into a staging folder: the manifest of what is there, the
    model card (``README.md``) and ``ner_bert.json`` with both."""
    files = file_manifest(staging)  # not the card: users edit it before they share it
    card = model_card(meta, name=name)
    atomic_write_text(staging / CARD_FILE, card)
    card_sha256 = hashlib.sha256(card.encode("utf-8")).hexdigest()  # tells an edited card
    write_metadata(staging, {**meta, "files": files, "card_sha256": card_sha256})


def read_metadata(directory: Path) -> dict[str, Any] | None:
    """Read ``ner_bert.json`` from a local model directory; ``None`` if it has none."""
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(
            f"{path}: could not read ner_bert metadata ({exc}); "
            "delete the file or save the model again."
        ) from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: expected a JSON object, got {type(data).__name__}.")
    return data


def checkpoint_step(path: Path) -> int | None:
    """The training step of a complete checkpoint folder ``checkpoint-<step>``, else ``None``.

    Example:
        >>> checkpoint_step(Path("no-such-dir/checkpoint-12")) is None
        True
    """
    name = path.name
    if not name.startswith(CHECKPOINT_PREFIX) or not path.is_dir():
        return None
    digits = name[len(CHECKPOINT_PREFIX) :]
    if not digits.isdigit() or not (path / TRAINER_STATE_FILE).is_file():
        return None
    return int(digits)


def list_checkpoints(directory: Path) -> list[Path]:
    """The complete checkpoints in ``directory``, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(e, p) for p in directory.iterdir() if (e := checkpoint_step(p)) is not None]
    return [p for _, p in sorted(found)]


def find_checkpoint(path: str | Path) -> Path:
    """The checkpoint to resume from: ``path`` itself, or the newest one inside it.

    Raises:
        DataNotFoundError: ``path`` does not exist or holds no complete checkpoint.
    """
    path = Path(path)
    if (path / TRAINER_STATE_FILE).is_file():
        return path
    found = list_checkpoints(path)
    if not found:
        what = "does not exist" if not path.exists() else "holds no complete checkpoint"
        raise DataNotFoundError(
            f"resume_from={str(path)!r} {what}; pass a checkpoint_dir used by an earlier run "
            "or one of its checkpoint-<step> folders."
        )
    return found[-1]


def check_output_dir(path: Path, *, overwrite: bool = False) -> None:
    """Refuse to write a model where it would replace anything the user did not ask to replace.

    An absent or empty directory is fine; an existing ner_bert model directory only with
    ``overwrite=True`` (it is then replaced as a whole, in one step).

    Raises:
        ConfigError: ``path`` is a file, a non-empty directory without ``ner_bert.json`` (never
            replaced: it may hold anything), or a model directory and ``overwrite`` is off.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"output directory {path} is an existing file; pass a directory path.")
    _check_writable(path)
    if not path.is_dir() or not any(path.iterdir()):
        return
    if not (path / METADATA_FILE).is_file():
        raise ConfigError(
            f"output directory {path} exists and is not a ner_bert model directory (it has no "
            f"{METADATA_FILE}); choose a new or empty directory so nothing of yours is "
            "overwritten."
        )
    if not overwrite:
        raise ConfigError(
            f"output directory {path} already holds a ner_bert model; pass overwrite=True "
            "(ner-bert train --overwrite) to replace it, or choose a new directory."
        )


def _check_writable(path: Path) -> None:
    """A model folder is written beside ``path``: refuse now if that cannot be done."""
    try:
        check_can_write_beside(path)
    except OSError as exc:
        raise ConfigError(
            f"output directory {path} cannot be written ({exc.filename or path.parent}: "
            f"{exc.strerror}); choose a folder you can write to."
        ) from exc


def check_checkpoint_dir(path: Path) -> None:
    """Refuse a checkpoint directory that holds anything but ner_bert checkpoints.

    Raises:
        ConfigError: ``path`` is a file, or a directory with entries that are not
            ``checkpoint-<step>`` folders or what the Trainer writes beside them (hidden
            entries are allowed).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"checkpoint_dir {path} is an existing file; pass a directory path.")
    if not path.is_dir():
        return
    foreign = [
        p.name
        for p in path.iterdir()
        if not p.name.startswith((CHECKPOINT_PREFIX, ".")) and p.name not in TRAINER_OUTPUTS
    ]
    if foreign:
        raise ConfigError(
            f"checkpoint_dir {path} exists and holds files that are not ner_bert checkpoints "
            f"({', '.join(sorted(foreign)[:5])}); choose a new or empty directory."
        )


def check_run_dirs(
    *, output_dir: str | None, checkpoint_dir: str | None, overwrite: bool = False
) -> None:
    """Check a training run's folders before it starts: each as above, and not one inside
    the other (the final save would replace the checkpoints, or the other way round).

    Raises:
        ConfigError: See :func:`check_output_dir` and :func:`check_checkpoint_dir`, or the two
            folders overlap.
    """
    if output_dir is not None:
        check_output_dir(Path(output_dir), overwrite=overwrite)
    if checkpoint_dir is not None:
        check_checkpoint_dir(Path(checkpoint_dir))
    if output_dir is not None and checkpoint_dir is not None:
        check_folders_apart(Path(output_dir), Path(checkpoint_dir))


def check_folders_apart(output_dir: Path, checkpoint_dir: Path) -> None:
    """Refuse a checkpoint folder and an output folder that are one inside the other.

    Raises:
        ConfigError: They overlap.
    """
    output, checkpoints = output_dir.resolve(), checkpoint_dir.resolve()
    if output == checkpoints or output in checkpoints.parents or checkpoints in output.parents:
        raise ConfigError(
            f"checkpoint_dir {checkpoint_dir} and output_dir {output_dir} overlap; the final "
            "model would replace the checkpoints (or they would land in the model). Use "
            "two separate folders."
        )


def save_model(
    directory: Path,
    model: Any,
    tokenizer: Any,
    labels: LabelSet,
    metadata: dict[str, Any],
    *,
    overwrite: bool = False,
) -> None:
    """Save weights (safetensors), tokenizer, config with real labels, ``ner_bert.json`` and
    a model card (``README.md``, see :mod:`ner_bert.model.card`).

    The folder is written beside ``directory`` and swapped in at the end, so a kill leaves
    the old folder or the new one, never a mix; ``ner_bert.json`` lists the size and SHA-256
    of every file, so a folder whose parts were not saved together is refused when loaded.

    Raises:
        ConfigError: See :func:`check_output_dir`.
    """
    from .. import __version__

    directory = Path(directory)
    check_output_dir(directory, overwrite=overwrite)
    model.config.id2label = labels.id2label
    model.config.label2id = labels.label2id
    with staged_folder(directory) as staging:
        with transformers_bars_off():
            model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        meta = {
            "format_version": 1,
            "tag_scheme": "IOB2",
            **metadata,
            "library_version": __version__,
            "labels": list(labels.labels),
        }
        write_card_and_metadata(staging, meta, name=directory.resolve().name)
    logger.info("saved model to %s (%s)", directory, METADATA_FILE)
