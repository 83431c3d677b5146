"""The saved-model directory: the only module that knows its file names.

A directory saved by ner_bert is a plain Hugging Face token-classification checkpoint
(``config.json`` with real ``id2label``/``label2id``, ``model.safetensors``, tokenizer files),
so ``transformers.pipeline("token-classification", model=path)`` loads it, plus one small
``ner_bert.json`` metadata file (library version, tag scheme, max length, training config,
final metrics, context settings).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import ModelLoadError

__all__ = [
    "CONFIG_FILE",
    "METADATA_FILE",
    "WEIGHTS_FILE",
    "atomic_write_text",
    "read_metadata",
    "write_metadata",
]

METADATA_FILE = "ner_bert.json"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
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
