"""From :class:`~ner_bert.config.TrainingConfig` (and the user's own ``TrainingArguments``) to the
one ``transformers.TrainingArguments`` the Trainer runs with.

:class:`TrainingConfig` is the simple front door. Each of its fields that the Trainer knows maps
to one ``TrainingArguments`` field (:data:`LINKS`, the table in the docs); a user who knows
transformers passes ``training_args`` for everything beyond it (``report_to``, ``eval_steps``,
``lr_scheduler_type``, ``gradient_checkpointing``, ``torch_compile``, ...). A setting may be
made in either place, never differently in both.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import MixedPrecision, TrainingConfig
from ..errors import ConfigError

__all__ = [
    "LINKS",
    "LOSS_POINTS",
    "Link",
    "build_training_arguments",
    "merge_training_args",
    "runtime_arguments",
    "training_arguments",
]


def _same(value: Any) -> Any:
    return value


def _whole_epochs(value: Any) -> int:
    if float(value) != int(value):
        raise ConfigError(
            f"training_args: num_train_epochs={value} is not a whole number; ner_bert trains "
            "whole epochs (use max_steps in training_args to stop within one)."
        )
    return int(value)


def _epochs_before(value: Any) -> int:
    return max(0, _whole_epochs(value) - 1)


@dataclass(frozen=True)
class Link:
    """A :class:`TrainingConfig` field and the ``TrainingArguments`` field it sets."""

    config: str
    args: str
    to_args: Callable[[Any], Any] = _same
    to_config: Callable[[Any], Any] = _same


LINKS: tuple[Link, ...] = (
    Link("learning_rate", "learning_rate"),
    Link("epochs", "num_train_epochs", float, _whole_epochs),
    Link("batch_size", "per_device_train_batch_size"),
    Link("eval_batch_size", "per_device_eval_batch_size"),
    Link("gradient_accumulation_steps", "gradient_accumulation_steps"),
    Link("weight_decay", "weight_decay"),
    # TrainingArguments reads a warmup_steps below 1 as a fraction of the steps.
    Link("warmup_ratio", "warmup_steps"),
    Link("max_grad_norm", "max_grad_norm", lambda v: 0.0 if v is None else v, lambda v: v or None),
    Link("seed", "seed"),
    # Ours counts the epochs trained before the first evaluation; TrainingArguments' is the
    # epoch from which evaluation runs (it evaluates after epoch `eval_delay`).
    Link("eval_delay", "eval_delay", lambda v: float(v + 1) if v else 0.0, _epochs_before),
    Link("checkpoint_dir", "output_dir"),
    Link("keep_checkpoints", "save_total_limit"),
    Link("progress_bar", "disable_tqdm", lambda v: not v, lambda v: not v),
    Link(
        "group_by_length",
        "train_sampling_strategy",
        lambda v: "group_by_length" if v else "random",
        lambda v: v == "group_by_length",
    ),
)
"""TrainingConfig field -> TrainingArguments field, one to one."""

LOSS_POINTS = 100
"""How many times a run logs its training loss (unless ``training_args`` sets
``logging_steps``)."""
_PRECISION_FLAGS = {"bf16": MixedPrecision.BF16, "fp16": MixedPrecision.FP16}
_CONFIG_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainingConfig)}


def _argument_fields() -> dict[str, Any]:
    from transformers import TrainingArguments

    return {f.name: f for f in dataclasses.fields(TrainingArguments) if f.init}


def _explicit_settings(training_args: Any) -> dict[str, Any]:
    """The fields the user set: a dict's keys, or a TrainingArguments' non-default fields."""
    from transformers import TrainingArguments

    fields = _argument_fields()
    if training_args is None:
        return {}
    if isinstance(training_args, TrainingArguments):
        reference = TrainingArguments()
        return {
            name: getattr(training_args, name)
            for name in fields
            if getattr(training_args, name) != getattr(reference, name)
        }
    if not isinstance(training_args, Mapping):
        raise ConfigError(
            "training_args must be a transformers.TrainingArguments or a dict of its fields, "
            f"got {type(training_args).__name__}."
        )
    for key in training_args:
        if key not in fields:
            raise ConfigError(_unknown_field_message(str(key), list(fields)))
    return dict(training_args)


def _unknown_field_message(key: str, valid: list[str]) -> str:
    linked = {link.config: link.args for link in LINKS}
    if key in linked:
        return (
            f"training_args: {key!r} is a TrainingConfig option; TrainingArguments calls it "
            f"{linked[key]!r} (set it in one of the two)."
        )
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"training_args: {key!r} is not a field of transformers.TrainingArguments.{hint} "
        "See the TrainingArguments documentation for the fields."
    )


def merge_training_args(
    config: TrainingConfig, training_args: Any
) -> tuple[TrainingConfig, dict[str, Any]]:
    """Fold the user's ``TrainingArguments`` settings into the config.

    Returns:
        The effective :class:`TrainingConfig` (fields set through their linked
        ``TrainingArguments`` field take that value) and the remaining explicit settings.

    Raises:
        ConfigError: An unknown field, or a field set differently in both places.
    """
    explicit = _explicit_settings(training_args)
    updates: dict[str, Any] = {}
    by_steps = explicit.get("eval_strategy") == "steps"
    for link in LINKS:
        if link.args == "eval_delay" and by_steps:
            continue  # counted in steps then: TrainingArguments' own meaning, passed as is
        if link.args in explicit:
            wanted = link.to_config(explicit[link.args])
            updates[link.config] = _agreed(config, link.config, link.args, wanted)
    chosen = [flag for flag in _PRECISION_FLAGS if explicit.get(flag)]
    if len(chosen) > 1:
        raise ConfigError("training_args: bf16 and fp16 are both set; choose one.")
    if chosen:
        flag = chosen[0]
        wanted_precision = _PRECISION_FLAGS[flag]
        updates["mixed_precision"] = _agreed(config, "mixed_precision", flag, wanted_precision)
    if explicit.get("use_cpu"):
        updates["device"] = _agreed(config, "device", "use_cpu", "cpu")
    effective = dataclasses.replace(config, **updates) if updates else config
    return effective, explicit


def _agreed(config: TrainingConfig, name: str, arg: str, wanted: Any) -> Any:
    current = getattr(config, name)
    if current != _CONFIG_DEFAULTS[name] and current != wanted:
        raise ConfigError(
            f"TrainingConfig.{name}={current!r} conflicts with training_args {arg} "
            f"(= {wanted!r} as {name}); set it in one place."
        )
    return wanted


def build_training_arguments(
    config: TrainingConfig,
    explicit: dict[str, Any],
    *,
    output_dir: str,
    has_eval: bool,
    dtype_name: str | None,
    use_cpu: bool,
) -> Any:
    """The ``TrainingArguments`` of a run: the config's values, ner_bert's choices, then the
    user's explicit settings on top.

    Args:
        config: The effective config (from :func:`merge_training_args`).
        explicit: The user's explicit ``TrainingArguments`` settings.
        output_dir: Where the Trainer writes checkpoints (``config.checkpoint_dir`` or a
            scratch folder).
        has_eval: Whether there is eval data (evaluation, best model, early stopping).
        dtype_name: ``"bf16"``, ``"fp16"`` or ``None`` (fp32), from the precision rule.
        use_cpu: Train on the CPU even if a GPU exists.

    Raises:
        ConfigError: TrainingArguments rejects the combination (the message is its own).
    """
    linked = {link.args: link.to_args(getattr(config, link.config)) for link in LINKS}
    values: dict[str, Any] = {name: value for name, value in linked.items() if value is not None}
    values["per_device_eval_batch_size"] = config.eval_batch_size or 2 * config.batch_size
    values.update(output_dir=output_dir, **runtime_arguments(dtype_name, use_cpu=use_cpu))
    values.update(_schedule(config, explicit, has_eval))
    values.update(
        lr_scheduler_type="linear",
        optim="adamw_torch_fused",
        # Without a checkpoint_dir the checkpoints only serve to keep the best model.
        save_only_model=config.checkpoint_dir is None,
    )
    skip = {"bf16", "fp16", "use_cpu", "output_dir"}
    values.update({k: v for k, v in explicit.items() if k not in skip})
    return training_arguments(values)


def runtime_arguments(dtype_name: str | None, *, use_cpu: bool) -> dict[str, Any]:
    """The ``TrainingArguments`` fields every ner_bert run sets the same way (fine-tuning and
    masked-LM adaptation): precision, device, no reporting unless asked, all columns kept."""
    return {
        "bf16": dtype_name == "bf16",
        "fp16": dtype_name == "fp16",
        "use_cpu": use_cpu,
        "report_to": "none",
        "remove_unused_columns": False,
        "dataloader_pin_memory": not use_cpu,
    }


def training_arguments(values: dict[str, Any]) -> Any:
    """``TrainingArguments(**values)``; its refusal is a :class:`ConfigError`."""
    from transformers import TrainingArguments

    try:
        return TrainingArguments(**values)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"transformers.TrainingArguments rejected the settings: {exc}") from exc


def _schedule(config: TrainingConfig, explicit: dict[str, Any], has_eval: bool) -> dict[str, Any]:
    """When to evaluate, save and log: per epoch by default, or on the user's steps."""
    strategy = str(explicit.get("eval_strategy", "epoch" if has_eval else "no"))
    if strategy != "no" and not has_eval:
        raise ConfigError(
            f"training_args: eval_strategy={strategy!r} needs eval data; pass "
            "trainer.train(train, eval=...)."
        )
    steps = explicit.get("eval_steps")
    if strategy == "steps" and config.eval_delay and "eval_delay" not in explicit:
        raise ConfigError(
            "TrainingConfig.eval_delay counts epochs, but eval_strategy='steps' evaluates by "
            "steps; set training_args eval_delay (in steps) instead."
        )
    # The loss is logged LOSS_POINTS times a run (TensorBoard and the training report get a
    # curve, not one point per epoch), and at every epoch end and evaluation as well
    # (LogEveryEvaluationCallback), so that the history has the loss of each evaluated period.
    schedule: dict[str, Any] = {
        "eval_strategy": strategy,
        "logging_strategy": "steps",
        "logging_steps": 1 / LOSS_POINTS,  # below 1: a fraction of the run's steps
    }
    if has_eval:
        # The Trainer keeps the best model by saving at each evaluation.
        schedule.update(
            save_strategy=strategy,
            load_best_model_at_end=True,
            metric_for_best_model="f1",
            greater_is_better=True,
        )
        if strategy == "steps":
            schedule["save_steps"] = steps or 500
    else:
        schedule["save_strategy"] = "epoch" if config.checkpoint_dir is not None else "no"
    return schedule
