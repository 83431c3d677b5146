"""Resuming: what a checkpoint must hold, and proof that it belongs to this run.

The Trainer resumes from any folder with its files and finds out only later, or never, that
the folder belongs to another model (a raw size-mismatch ``RuntimeError``), lacks its
optimizer state (a raw ``FileNotFoundError``) or was written with other settings or data
(accepted without a word: the run then matches neither the old nor the new settings). So each
checkpoint gets a small record (:data:`~ner_bert.model.files.RUN_RECORD_FILE`: settings,
labels, encoder shape, a fingerprint of the data), and :func:`checkpoint_to_resume` checks a
checkpoint against the run before any model is loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ..config import TrainingConfig
from ..errors import ConfigError, DataFormatError, LabelError, ModelLoadError
from ..labels import LabelSet
from ..model.atomic import atomic_write_text
from ..model.files import (
    CHECKPOINT_PREFIX,
    RESUME_STATE_FILES,
    RUN_RECORD_FILE,
    find_checkpoint,
)
from ..model.loading import load_encoder_config
from ..types import TaggedSentence

__all__ = ["RunRecordCallback", "checkpoint_to_resume", "run_record"]

logger = logging.getLogger("ner_bert.training")

# Fields that change how (or where) a run is watched or stored, not what it computes: they may
# differ between a run and its resumption.
_FREE_FIELDS = (
    "device",
    "checkpoint_dir",
    "output_dir",
    "overwrite_output_dir",
    "keep_checkpoints",
    "progress_bar",
    "num_threads",
    "eval_batch_size",
    "report_to",
    "logging_dir",
    "logging_steps",
    "logging_strategy",
    "run_name",
    "disable_tqdm",
    "save_total_limit",
    "dataloader_num_workers",
)
# The encoder's shape: a checkpoint of another model differs in one of these.
_SHAPE_FIELDS = ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")


def run_record(
    config: TrainingConfig,
    training_args: dict[str, Any],
    labels: LabelSet,
    train: Sequence[TaggedSentence],
    eval: Sequence[TaggedSentence] | None,
) -> dict[str, Any]:
    """What a checkpoint of this run records: the settings that shape it, and the data."""
    settings = {k: v for k, v in config.to_dict().items() if k not in _FREE_FIELDS}
    record = {
        "settings": settings,
        "training_args": training_args,
        "labels": list(labels.labels),
        "train_data": _fingerprint(train),
        "eval_data": None if eval is None else _fingerprint(eval),
    }
    as_read: dict[str, Any] = json.loads(json.dumps(record, default=str))
    return as_read  # as it reads back from the file


def _fingerprint(sentences: Sequence[TaggedSentence]) -> str:
    """SHA-256 of the sentences' words, tags and documents, with their count."""
    digest = hashlib.sha256()
    for sentence in sentences:
        digest.update(json.dumps([sentence.words, sentence.tags, sentence.document]).encode())
    return f"{len(sentences)} sentences, sha256 {digest.hexdigest()[:16]}"


class RunRecordCallback(TrainerCallback):
    """Writes the run's record into every checkpoint the Trainer saves."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"{CHECKPOINT_PREFIX}{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            atomic_write_text(folder / RUN_RECORD_FILE, json.dumps(self.record, indent=2) + "\n")


def checkpoint_to_resume(
    resume_from: str | Path,
    record: dict[str, Any],
    model_config: Any,
    *,
    allow_changed_settings: bool = False,
) -> Path:
    """The checkpoint folder to resume from, after checking it belongs to this run.

    Raises:
        DataNotFoundError: No complete checkpoint there.
        ModelLoadError: Optimizer or schedule state missing, or the checkpoint is of an
            encoder of another shape.
        LabelError: The checkpoint's head has other labels.
        ConfigError: Settings or data differ from the checkpoint's (unless
            ``allow_changed_settings``).
    """
    path = find_checkpoint(resume_from)
    missing = [name for name in RESUME_STATE_FILES if not (path / name).is_file()]
    if missing:
        raise ModelLoadError(
            f"{path}: {missing[0]} is missing, so the run cannot continue exactly where it "
            "stopped; resume from a complete checkpoint (the newest one of the run's "
            "checkpoint_dir) or start again."
        )
    saved = load_encoder_config(str(path))
    _check_shape(path, saved, model_config)
    _check_labels(path, saved, record["labels"])
    _check_record(path, record, allow_changed_settings)
    return path


def _check_shape(path: Path, saved: Any, model_config: Any) -> None:
    for name in _SHAPE_FIELDS:
        ours, theirs = getattr(model_config, name, None), getattr(saved, name, None)
        if ours != theirs:
            raise ModelLoadError(
                f"{path}: the checkpoint is of another model ({name} {theirs!r}, this run's "
                f"model has {ours!r}); resume with the model the run started from."
            )


def _check_labels(path: Path, saved: Any, labels: list[str]) -> None:
    try:
        head = LabelSet.from_id2label(saved.id2label)
    except LabelError:
        return
    if list(head.labels) != labels:
        raise LabelError(
            f"{path}: the checkpoint was trained with labels {list(head.labels)}, "
            f"but this data gives {labels}; resume with the same data."
        )


def _check_record(path: Path, record: dict[str, Any], allow_changed: bool) -> None:
    file = path / RUN_RECORD_FILE
    if not file.is_file():
        logger.warning("%s has no %s; its settings cannot be checked.", path, RUN_RECORD_FILE)
        return
    try:
        saved = json.loads(file.read_text(encoding="utf-8"))
        changes = _differences(saved, record)
    except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise DataFormatError(f"{file}: unreadable run record ({exc}).") from exc
    if not changes:
        return
    listed = "; ".join(changes[:6])
    if allow_changed:
        logger.warning("%s: resuming with changed settings: %s", path, listed)
        return
    raise ConfigError(
        f"{path}: this run differs from the checkpoint's: {listed}. Resume with the "
        "checkpoint's settings and data, or pass allow_changed_settings=True "
        "(ner-bert train --allow-changed-settings) to continue anyway."
    )


def _differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    changes = []
    for group in ("settings", "training_args"):
        old, new = saved.get(group) or {}, current.get(group) or {}
        for key in sorted(set(old) | set(new)):
            if key not in _FREE_FIELDS and old.get(key) != new.get(key):
                changes.append(f"{key} {old.get(key)!r} -> {new.get(key)!r}")
    for key, what in (("train_data", "training data"), ("eval_data", "eval data")):
        if saved.get(key) != current.get(key):
            changes.append(f"{what} {saved.get(key)} -> {current.get(key)}")
    return changes
