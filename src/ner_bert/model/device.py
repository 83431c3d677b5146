"""Where the model runs and in which precision: the one place that decides both.

Training, evaluation, prediction and the spaCy component all call :func:`resolve_device` and
:func:`resolve_precision`, so a device that does not exist or fp16 on a CPU gives the same
clear :class:`~ner_bert.errors.ConfigError` everywhere, before any model is loaded.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

from ..config import MixedPrecision
from ..errors import ConfigError

__all__ = [
    "autocast",
    "available_devices",
    "cpu_has_fast_bf16",
    "on_accelerator",
    "precision_name",
    "resolve_device",
    "resolve_precision",
]


def available_devices() -> list[str]:
    """The devices torch can use on this machine, e.g. ``['cpu', 'cuda:0', 'cuda:1']``."""
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        found.append("mps")
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        found += [f"xpu:{i}" for i in range(xpu.device_count())]
    return found


def resolve_device(device: str | None) -> Any:
    """The ``torch.device`` for a config value, after checking it exists on this machine.

    ``None`` and ``"auto"`` pick the first GPU if there is one, else the CPU.

    Raises:
        ConfigError: The device (or its index) does not exist here; the message lists the
            devices that do.
    """
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"device={device!r} is not a device name ({exc}).") from exc
    found = available_devices()
    kind = resolved.type
    if kind != "cpu":
        index = 0 if resolved.index is None else resolved.index
        name = "mps" if kind == "mps" else f"{kind}:{index}"
        if name not in found:
            raise ConfigError(
                f"device={device!r} is not available on this machine (it has: "
                f"{', '.join(found)}); use 'auto' or one of those."
            )
    return resolved


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (Intel AMX or AVX512-BF16).

    On such CPUs (Intel Sapphire Rapids and later, AMD Zen 4 and later) bf16 autocast trains
    and predicts about 1.5x (AVX512-BF16) to 3x (AMX) faster than fp32.
    """
    import torch

    try:
        if "AMX" in torch.backends.cpu.get_cpu_capability():
            return True
    except (AttributeError, RuntimeError):  # pragma: no cover - old torch
        pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:  # pragma: no cover - not Linux
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: MixedPrecision | str, device: Any) -> Any:
    """The autocast dtype for ``precision`` on ``device``, or ``None`` for fp32.

    ``auto`` is bf16 on CPUs with fast bfloat16 and on GPUs that support it, fp16 on older
    GPUs, fp32 elsewhere.

    Raises:
        ConfigError: fp16 on a CPU.
    """
    import torch

    precision = MixedPrecision(precision)
    if precision is MixedPrecision.NO:
        return None
    if precision is MixedPrecision.BF16:
        return torch.bfloat16
    if precision is MixedPrecision.FP16:
        if device.type == "cpu":
            raise ConfigError(
                "fp16 mixed precision needs a GPU; use 'bf16' (fast on CPUs with AMX or "
                "AVX512-BF16) or 'no' (fp32) on a CPU."
            )
        return torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_fast_bf16() else None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def precision_name(dtype: Any) -> str:
    """``"fp32"`` for ``None``, ``"bf16"`` or ``"fp16"`` for an autocast dtype.

    Example:
        >>> precision_name(None)
        'fp32'
    """
    if dtype is None:
        return "fp32"
    return "bf16" if str(dtype).endswith("bfloat16") else "fp16"


def autocast(device: Any, dtype: Any) -> Any:
    """``torch.autocast`` for ``dtype`` on ``device``, or a no-op for fp32 (``None``)."""
    import torch

    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def on_accelerator(model: Any) -> bool:
    """Whether ``model``'s parameters are on a GPU (or another non-CPU device)."""
    return bool(next(model.parameters()).device.type != "cpu")
