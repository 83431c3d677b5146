"""The training loop of :class:`ner_bert.NERTrainer`, on Hugging Face Accelerate.

One process or many (``accelerate launch`` / ``torchrun``): every process builds the same
length-grouped batch order from ``(seed, epoch)`` and takes every ``world_size``-th batch, the
model is wrapped for data-parallel training by Accelerate, and only the main process writes
files. Evaluation runs on every process with identical weights, so early-stopping decisions
agree without communication.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import TYPE_CHECKING, Any

import torch

from . import checkpoint as ckpt
from .errors import ConfigError
from .features import collate, length_grouped_batches
from .labels import LabelSet
from .types import TaggedSentence

if TYPE_CHECKING:  # pragma: no cover
    from .training import NERTrainer, TrainingResult

__all__ = ["run"]

logger = logging.getLogger(__name__)


def _make_optimizer(model: torch.nn.Module, config: Any, device: torch.device) -> Any:
    from .training_setup import decay_parameter_groups

    groups = decay_parameter_groups(model, config.weight_decay)
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.AdamW(groups, lr=config.learning_rate, fused=True)
        except (RuntimeError, TypeError, ValueError):  # pragma: no cover - old torch
            pass
    return torch.optim.AdamW(groups, lr=config.learning_rate)  # pragma: no cover


def run(
    trainer: NERTrainer,
    train: list[TaggedSentence],
    eval: list[TaggedSentence] | None,
    labels: LabelSet,
    checkpoint: ckpt.Checkpoint | None,
) -> TrainingResult:
    """Train ``trainer``'s model in place and return the result."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import get_linear_schedule_with_warmup

    from .training import EpochMetrics, TrainingResult
    from .training_data import windows_for
    from .training_setup import autocast, autocast_dtype, load_model

    config = trainer.config
    started = time.perf_counter()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    if config.device in ("cuda", "mps", "xpu") and not _available(config.device):
        raise ConfigError(
            f"device={config.device!r} is not available on this machine; use 'auto' or 'cpu'."
        )
    accelerator = Accelerator(cpu=config.device == "cpu")
    device = accelerator.device
    dtype = autocast_dtype(config.mixed_precision, device)
    rank, world = accelerator.process_index, accelerator.num_processes

    windows = windows_for(trainer, train)
    if not windows:
        raise ConfigError("the training data produced no tokens; check the words and tokenizer.")
    lengths = [len(w) for w in windows]
    specials = (len(trainer._encoder.prefix), len(trainer._encoder.suffix))
    logger.info(
        "training %s on %d sentences (%d inputs of <= %d tokens, context %d), labels %s, "
        "%d process(es), device %s, autocast %s",
        trainer.model_name,
        len(train),
        len(windows),
        trainer.max_length,
        config.context_size,
        list(labels.entity_types),
        world,
        device,
        dtype,
    )

    set_seed(config.seed)
    model = load_model(trainer.model_name, trainer._model_config, labels)
    model.to(device)
    optimizer = _make_optimizer(model, config, device)
    batches_per_epoch = math.ceil(math.ceil(len(windows) / config.batch_size) / world)
    steps_per_epoch = math.ceil(batches_per_epoch / config.gradient_accumulation_steps)
    total_steps = steps_per_epoch * config.epochs
    scheduler = get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
        optimizer, math.ceil(config.warmup_ratio * total_steps), total_steps
    )
    scaler = torch.amp.GradScaler(device.type) if dtype is torch.float16 else None
    wrapped = accelerator.prepare_model(model) if world > 1 else model

    history: list[EpochMetrics] = []
    best_f1 = -1.0
    best_epoch: int | None = None
    best_eval = None
    best_weights: dict[str, torch.Tensor] | None = None
    bad_evals = 0
    global_step = 0
    start_epoch = 0
    if checkpoint is not None:
        best_weights = ckpt.load_into(
            checkpoint, model=model, optimizer=optimizer, scheduler=scheduler, rank=rank
        )
        state = checkpoint.state
        start_epoch = int(state["epoch"])
        global_step = int(state["global_step"])
        history = [EpochMetrics(**m) for m in state["history"]]
        best_f1 = float(state["best_f1"])
        best_epoch = state["best_epoch"]
        bad_evals = int(state["bad_evals"])
        if state.get("n_windows") != len(windows) or state.get("world_size") != world:
            logger.warning(
                "resuming from %s with different data or process count; the result will not "
                "match an uninterrupted run",
                checkpoint.path,
            )
        if best_weights is None and best_epoch == start_epoch:
            best_weights = _cpu_copy(model)
        logger.info("resumed from %s after epoch %d", checkpoint.path, start_epoch)

    stopped_early = checkpoint is not None and bool(checkpoint.state.get("stopped_early"))
    if stopped_early:
        start_epoch = config.epochs  # the interrupted run had already stopped early
    model.train()
    for epoch in range(start_epoch, config.epochs):
        epoch_start = time.perf_counter()
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        batches = length_grouped_batches(
            lengths,
            config.batch_size,
            generator=generator,
            group_by_length=config.group_by_length,
        )
        # Context dropout: the same inputs lose their context on every process (same seed).
        dropped = (
            (torch.rand(len(windows), generator=generator) < config.context_dropout).tolist()
            if config.context_dropout > 0 and config.context_size > 0
            else None
        )
        if world > 1:
            # Every process needs the same number of batches: repeat a few from the start.
            batches += batches[: -len(batches) % world]
            batches = batches[rank::world]
        loss_sum = torch.zeros((), device=device)
        n_loss = 0
        seen = 0
        progress = _progress(config.progress_bar and accelerator.is_main_process, len(batches))
        progress.set_description(f"epoch {epoch + 1}/{config.epochs}")
        accumulation = config.gradient_accumulation_steps
        for index, batch_ids in enumerate(batches):
            group_start = index - index % accumulation
            group_size = min(accumulation, len(batches) - group_start)
            sync = index - group_start == group_size - 1
            batch_windows = [windows[i] for i in batch_ids]
            if dropped is not None:
                batch_windows = [
                    w.without_context(*specials) if dropped[i] else w
                    for w, i in zip(batch_windows, batch_ids, strict=True)
                ]
            inputs = {k: v.to(device) for k, v in collate(batch_windows, _pad(trainer)).items()}
            no_sync = (
                accelerator.no_sync(wrapped) if world > 1 and not sync else contextlib.nullcontext()
            )
            with no_sync:
                with autocast(device, dtype):
                    loss = wrapped(**inputs).loss
                scaled = loss / group_size
                if scaler is not None:
                    scaler.scale(scaled).backward()
                else:
                    scaled.backward()
            loss_sum += loss.detach()
            n_loss += 1
            seen += len(batch_ids)
            if sync:
                if scaler is not None:
                    scaler.unscale_(optimizer)
                if config.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                global_step += 1
            if progress.enabled and (index % 10 == 0 or index == len(batches) - 1):
                elapsed = max(time.perf_counter() - epoch_start, 1e-9)
                progress.set_postfix(
                    loss=f"{loss_sum.item() / n_loss:.4f}", sent_s=f"{seen * world / elapsed:.0f}"
                )
            progress.update(1)
        progress.close()
        train_loss = float(loss_sum.item() / max(n_loss, 1))
        if world > 1:
            train_loss = float(accelerator.reduce(torch.tensor(train_loss, device=device), "mean"))
        metrics = EpochMetrics(
            epoch=epoch + 1,
            train_loss=train_loss,
            learning_rate=float(scheduler.get_last_lr()[0]),
            seconds=time.perf_counter() - epoch_start,
        )
        if eval is not None and epoch + 1 > config.eval_delay:
            trainer.model = model
            report = trainer._score(eval)
            model.train()
            metrics = EpochMetrics(
                **{
                    **metrics.to_dict(),
                    "eval_f1": report.f1,
                    "eval_strict_f1": report.strict.micro.f1,
                }
            )
            if report.f1 > best_f1:
                best_f1, best_epoch, best_eval, bad_evals = report.f1, epoch + 1, report, 0
                best_weights = _cpu_copy(model)
            else:
                bad_evals += 1
        history.append(metrics)
        logger.info(
            "epoch %d/%d: loss %.4f%s (%.0f s)",
            epoch + 1,
            config.epochs,
            metrics.train_loss,
            "" if metrics.eval_f1 is None else f", dev F1 {metrics.eval_f1:.4f}",
            metrics.seconds,
        )
        stop = (
            config.early_stopping_patience is not None
            and eval is not None
            and bad_evals >= config.early_stopping_patience
        )
        if config.checkpoint_dir is not None:
            state = {
                "epoch": epoch + 1,
                "global_step": global_step,
                "history": [m.to_dict() for m in history],
                "best_f1": best_f1,
                "best_epoch": best_epoch,
                "bad_evals": bad_evals,
                "labels": list(labels.labels),
                "n_windows": len(windows),
                "world_size": world,
                "config": config.to_dict(),
                "model": trainer.model_name,
                "stopped_early": stop and epoch + 1 < config.epochs,
            }
            ckpt.write_checkpoint(
                config.checkpoint_dir,  # type: ignore[arg-type]
                epoch + 1,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                state=state,
                best_weights=best_weights if best_epoch not in (None, epoch + 1) else None,
                rank=rank,
                is_main=accelerator.is_main_process,
                barrier=accelerator.wait_for_everyone,
                keep=config.keep_checkpoints,
            )
        if stop:
            stopped_early = epoch + 1 < config.epochs
            logger.info("early stopping after epoch %d (best epoch %s)", epoch + 1, best_epoch)
            break

    if best_weights is not None:
        model.load_state_dict(best_weights)
    model.eval()
    trainer.model = model
    if best_epoch is not None and best_eval is None and eval is not None:
        # Resumed after the best epoch: score its kept weights again.
        best_eval = trainer._score(eval)
    accelerator.wait_for_everyone()
    return TrainingResult(
        history=tuple(history),
        best_epoch=best_epoch,
        best_eval=best_eval,
        global_steps=global_step,
        seconds=time.perf_counter() - started,
        stopped_early=stopped_early,
        labels=labels.labels,
    )


def _available(device: str) -> bool:
    if device == "cuda":
        return bool(torch.cuda.is_available())
    if device == "mps":
        return bool(torch.backends.mps.is_available())
    return bool(getattr(torch, "xpu", None) and torch.xpu.is_available())


def _pad(trainer: NERTrainer) -> int:
    return int(trainer._encoder.pad_id)


def _cpu_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class _NoBar:
    enabled = False

    def set_description(self, *_: Any) -> None:
        pass

    def set_postfix(self, **_: Any) -> None:
        pass

    def update(self, *_: Any) -> None:
        pass

    def close(self) -> None:
        pass


class _Bar:
    enabled = True

    def __init__(self, total: int) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, unit="batch", leave=False)

    def set_description(self, text: str) -> None:
        self._bar.set_description(text)

    def set_postfix(self, **values: Any) -> None:
        self._bar.set_postfix(values, refresh=False)

    def update(self, n: int) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def _progress(enabled: bool, total: int) -> Any:
    return _Bar(total) if enabled else _NoBar()
