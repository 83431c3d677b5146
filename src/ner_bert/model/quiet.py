"""transformers' own progress bars, off while ner_bert loads or saves a model.

transformers 5 draws a "Loading weights" bar for every model it loads and a "Writing model
shards" bar for every save, on stderr, whether or not stderr is a terminal: a prediction
worker or a log file gets one per load. ner_bert reports its loads and saves itself (logging),
so they are switched off for the duration of the call and restored after.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["transformers_bars_off"]


@contextlib.contextmanager
def transformers_bars_off() -> Iterator[None]:
    """Within the block transformers draws no progress bars; huggingface_hub's download
    bars (a first download of a large model takes minutes) stay as they were."""
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hub_enabled = not hub_utils.are_progress_bars_disabled()  # type: ignore[attr-defined]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    if hub_enabled:  # transformers' switch turns the hub's off too
        hub_utils.enable_progress_bars()  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
        if not hub_enabled:
            hub_utils.disable_progress_bars()  # type: ignore[attr-defined]
