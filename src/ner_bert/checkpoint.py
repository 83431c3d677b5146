"""Epoch checkpoints of a training run: written atomically, read back to resume exactly.

A checkpoint is a directory ``<checkpoint_dir>/epoch-NNNN`` (names from
:mod:`ner_bert.serialization`) with the model weights (safetensors), the optimizer and
scheduler states, each process's random-number-generator states and a JSON trainer state
(epoch, step, history, early-stopping state, labels, config). It is written into a hidden
temporary directory and renamed into place, so a crash never leaves a half-written checkpoint
that looks complete.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import DataNotFoundError, ModelLoadError
from .serialization import (
    BEST_WEIGHTS_FILE,
    OPTIMIZER_FILE,
    SCHEDULER_FILE,
    TRAINER_STATE_FILE,
    WEIGHTS_FILE,
    atomic_write_text,
    checkpoint_name,
    list_checkpoints,
    rng_file,
)

__all__ = [
    "Checkpoint",
    "capture_rng",
    "find_checkpoint",
    "read_checkpoint",
    "restore_rng",
    "write_checkpoint",
]

logger = logging.getLogger(__name__)


def capture_rng() -> dict[str, Any]:
    """The states of Python's, numpy's and torch's (CPU and CUDA) generators."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Restore generator states captured by :func:`capture_rng`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tmp_dir(root: Path, epoch: int) -> Path:
    return root / f".{checkpoint_name(epoch)}.tmp"


def write_checkpoint(
    root: Path,
    epoch: int,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
    best_weights: dict[str, torch.Tensor] | None,
    rank: int,
    is_main: bool,
    barrier: Any,
    keep: int,
) -> Path:
    """Write the checkpoint of ``epoch`` under ``root``; every process must call it.

    ``barrier`` is called between the phases (the main process creates the temporary
    directory, every process adds its RNG state, the main process writes the rest and renames).
    """
    from safetensors.torch import save_file, save_model

    root = Path(root)
    tmp = _tmp_dir(root, epoch)
    final = root / checkpoint_name(epoch)
    if is_main:
        root.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
    barrier()
    torch.save(capture_rng(), tmp / rng_file(rank))
    barrier()
    if is_main:
        save_model(model, str(tmp / WEIGHTS_FILE))
        if best_weights is not None:
            save_file(best_weights, str(tmp / BEST_WEIGHTS_FILE))
        torch.save(optimizer.state_dict(), tmp / OPTIMIZER_FILE)
        torch.save(scheduler.state_dict(), tmp / SCHEDULER_FILE)
        atomic_write_text(tmp / TRAINER_STATE_FILE, json.dumps(state, indent=2) + "\n")
        if final.exists():
            old = root / f".{final.name}.old"
            if old.exists():
                shutil.rmtree(old)
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old)
        else:
            tmp.rename(final)
        for stale in list_checkpoints(root)[:-keep]:
            shutil.rmtree(stale, ignore_errors=True)
        logger.info("wrote checkpoint %s", final)
    barrier()
    return final


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
            "or one of its epoch-NNNN folders."
        )
    return found[-1]


@dataclass
class Checkpoint:
    """What :func:`read_checkpoint` returns."""

    path: Path
    state: dict[str, Any]
    has_best_weights: bool


def read_checkpoint(path: Path) -> Checkpoint:
    """Read the trainer state of a checkpoint (tensors are loaded by :func:`load_into`)."""
    try:
        state = json.loads((path / TRAINER_STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{path / TRAINER_STATE_FILE}: unreadable ({exc}).") from exc
    return Checkpoint(path, state, (path / BEST_WEIGHTS_FILE).is_file())


def load_into(
    checkpoint: Checkpoint,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    rank: int,
) -> dict[str, torch.Tensor] | None:
    """Restore model, optimizer, scheduler and this process's RNG; return the best weights."""
    from safetensors.torch import load_file, load_model

    path = checkpoint.path
    load_model(model, str(path / WEIGHTS_FILE))
    device = next(model.parameters()).device
    optimizer.load_state_dict(torch.load(path / OPTIMIZER_FILE, map_location=device))
    scheduler.load_state_dict(torch.load(path / SCHEDULER_FILE))
    rng_path = path / rng_file(rank)
    if not rng_path.is_file():
        rng_path = path / rng_file(0)
        logger.warning("checkpoint %s has no RNG state of process %d; using process 0", path, rank)
    # Our own file with Python and numpy generator states, which weights_only cannot hold.
    restore_rng(torch.load(rng_path, weights_only=False))
    if checkpoint.has_best_weights:
        return load_file(str(path / BEST_WEIGHTS_FILE))
    return None
