"""The saved-model directory: the only module that knows its file names.

A directory saved by ner_bert is a plain Hugging Face token-classification checkpoint
(``config.json`` with real ``id2label``/``label2id``, ``model.safetensors``, tokenizer files),
so ``transformers.pipeline("token-classification", model=path)`` loads it, plus one small
``ner_bert.json`` metadata file (library version, tag scheme, max length, training config,
final metrics, context settings).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataNotFoundError, ModelLoadError
from ..labels import LabelSet

__all__ = [
    "CHECKPOINT_PREFIX",
    "CONFIG_FILE",
    "METADATA_FILE",
    "PICKLE_WEIGHTS_FILES",
    "SHARDED_WEIGHTS_FILE",
    "TOKENIZER_FILES",
    "TRAINER_OUTPUTS",
    "TRAINER_STATE_FILE",
    "WEIGHTS_FILE",
    "atomic_write_text",
    "check_checkpoint_dir",
    "check_output_dir",
    "checkpoint_step",
    "find_checkpoint",
    "list_checkpoints",
    "read_metadata",
    "save_model",
    "write_metadata",
]

logger = logging.getLogger(__name__)

METADATA_FILE = "ner_bert.json"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

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
# What transformers.Trainer may write next to its checkpoints (TensorBoard runs, its args).
TRAINER_OUTPUTS = ("runs", "training_args.bin", "README.md")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # mkstemp creates 0600 files; give the result the permissions open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_metadata(directory: Path, metadata: dict[str, Any]) -> None:
    """Write ``ner_bert.json`` into ``directory``."""
    atomic_write_text(Path(directory) / METADATA_FILE, json.dumps(metadata, indent=2) + "\n")


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


def check_output_dir(path: Path) -> None:
    """Refuse to write a model into a directory that exists and is not a ner_bert model.

    An absent or empty directory, or one with a ``ner_bert.json``, is fine.

    Raises:
        ConfigError: ``path`` is a file, or a non-empty directory without ``ner_bert.json``.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"output directory {path} is an existing file; pass a directory path.")
    if path.is_dir() and any(path.iterdir()) and not (path / METADATA_FILE).is_file():
        raise ConfigError(
            f"output directory {path} exists and is not a ner_bert model directory (it has no "
            f"{METADATA_FILE}); choose a new or empty directory so nothing of yours is "
            "overwritten."
        )


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


def save_model(
    directory: Path, model: Any, tokenizer: Any, labels: LabelSet, metadata: dict[str, Any]
) -> None:
    """Save weights (safetensors), tokenizer, config with real labels and ``ner_bert.json``."""
    from .. import __version__

    directory.mkdir(parents=True, exist_ok=True)
    model.config.id2label = labels.id2label
    model.config.label2id = labels.label2id
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    meta = {
        "format_version": 1,
        "tag_scheme": "IOB2",
        **metadata,
        "library_version": __version__,
        "labels": list(labels.labels),
    }
    write_metadata(directory, meta)
    logger.info("saved model to %s (%s)", directory, METADATA_FILE)
