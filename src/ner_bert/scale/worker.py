"""The prediction callable that Ray Data and Spark workers run: picklable, loading lazily.

A :class:`BatchPredictor` holds only the model's path and the prediction options, so it
pickles in bytes and ships to every worker. The model is loaded the first time a worker
process calls it and kept in a per-process cache keyed by path and options, so a reused
worker process (Ray actors, Spark's reused Python workers, several tasks or UDF calls in one
process) never loads it twice. The output is plain records, one list per text, of the fields
of :data:`ENTITY_FIELDS`: what Arrow, Parquet, JSON, pandas and Spark store without a custom
type.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import PredictionConfig
from ..errors import ConfigError, InputTypeError, ModelLoadError
from ..model.loading import check_model_dir
from ..model.source import looks_local

__all__ = [
    "ENTITY_FIELDS",
    "BatchPredictor",
    "EntityRecord",
    "batch_predictor",
    "check_columns",
    "check_model",
    "entity_arrow_type",
    "models_loaded",
]

logger = logging.getLogger(__name__)

# An entity as an Arrow struct / Spark StructType: the fields of ner_bert.Entity, in order.
ENTITY_FIELDS: tuple[tuple[str, str], ...] = (
    ("start", "int64"),
    ("end", "int64"),
    ("label", "string"),
    ("score", "float64"),
    ("text", "string"),
)

EntityRecord = dict[str, Any]

# Per process: (model, options) -> predictor. Engines start many calls in one process.
_LOADED: dict[tuple[str | None, ...], Any] = {}
_LOAD_LOCK = threading.Lock()
_LOAD_COUNT = 0


def entity_arrow_type() -> Any:
    """The Arrow type of one row's entities: a list of :data:`ENTITY_FIELDS` structs."""
    import pyarrow as pa

    return pa.list_(pa.struct([(name, pa.type_for_alias(kind)) for name, kind in ENTITY_FIELDS]))


def models_loaded() -> int:
    """How many models this process has loaded through a :class:`BatchPredictor` (a check
    that an engine reuses its workers: one per worker process is the expected count)."""
    return _LOAD_COUNT


def check_model(model: str | Path) -> str:
    """``model`` as the string workers load, checked where it can be, on the driver.

    A local folder must hold a complete saved model (config, weights, tokenizer); a hub name
    is passed on (workers need the hub or its cache). On a cluster the path must also exist
    on every worker; a worker that cannot read it raises :class:`ModelLoadError` naming the
    path and the host.

    Raises:
        ModelLoadError: A local path that is missing or not a complete model folder.
    """
    if looks_local(model):
        path = Path(model).expanduser().resolve()
        check_model_dir(path)
        return str(path)
    return str(model)


@dataclasses.dataclass(frozen=True)
class BatchPredictor:
    """Texts in, entity records out; what every engine's worker calls.

    Args:
        model: A model folder (on every worker's file system) or a hub name.
        config: Prediction options; ``None`` (default) takes the settings saved with the
            model (its aggregation) as :meth:`~ner_bert.NERPredictor.from_pretrained` does.
        num_threads: torch threads in the worker process. The engine wrappers pass the CPUs
            the engine gives each worker.
        device: Overrides the config's device.
        precision: Overrides the config's precision (``"fp32"``, ``"bf16"``...).
        batch_size: Overrides the config's batch size.

    Example:
        >>> import pickle
        >>> predictor = BatchPredictor("/models/conll", num_threads=1)
        >>> pickle.loads(pickle.dumps(predictor)) == predictor
        True
    """

    model: str
    config: PredictionConfig | None = None
    num_threads: int | None = None
    device: str | None = None
    precision: str | None = None
    batch_size: int | None = None

    def load(self) -> Any:
        """The :class:`~ner_bert.NERPredictor` of this process, loaded on first use."""
        global _LOAD_COUNT
        if self.num_threads is not None:  # before loading: an ONNX session takes it then
            import torch

            torch.set_num_threads(self.num_threads)
        with _LOAD_LOCK:
            predictor = _LOADED.get(self._key())
            if predictor is None:
                predictor = self._load()
                _LOADED[self._key()] = predictor
                _LOAD_COUNT += 1
        return predictor

    def __call__(
        self,
        texts: Sequence[str | None],
        *,
        ids: Sequence[Any] | None = None,
        allow_null: bool = False,
        column: str = "text",
    ) -> list[list[EntityRecord] | None]:
        """The entity records of each text, in order.

        Args:
            texts: The batch's texts.
            ids: The batch's document ids, used only to name a bad row in an error.
            allow_null: A null text gives a null result (otherwise it is an error).
            column: The texts' column name, for error messages.

        Raises:
            InputTypeError: A text that is null (without ``allow_null``) or not a string; the
                message names the column and the row (its id if ``ids`` is given).
        """
        present = [i for i, text in enumerate(texts) if text is not None or not allow_null]
        for i in present:
            if not isinstance(texts[i], str):
                raise InputTypeError(_bad_text(texts[i], column, i, ids))
        found = self.load().predict([texts[i] for i in present], batch_size=self.batch_size)
        results: list[list[EntityRecord] | None] = [None] * len(texts)
        for i, entities in zip(present, found, strict=True):
            results[i] = [{name: getattr(e, name) for name, _ in ENTITY_FIELDS} for e in entities]
        return results

    def with_threads(self, num_threads: int | None) -> BatchPredictor:
        """This predictor with ``num_threads`` if it has none of its own."""
        if self.num_threads is not None or num_threads is None:
            return self
        return dataclasses.replace(self, num_threads=num_threads)

    def _key(self) -> tuple[str, str, str | None, str | None]:
        """What the loaded model depends on (threads and batch size do not change it)."""
        return (self.model, repr(self.config), self.device, self.precision)

    def _load(self) -> Any:
        from ..prediction import NERPredictor

        started = time.perf_counter()
        try:
            predictor = NERPredictor.from_pretrained(
                self.model, config=self.config, device=self.device, precision=self.precision
            )
        except ModelLoadError as exc:
            where = f"on worker {socket.gethostname()} (pid {os.getpid()})"
            raise ModelLoadError(f"{where}: {exc}") from exc
        logger.info(
            "worker %s pid %d loaded %s in %.1f s",
            socket.gethostname(),
            os.getpid(),
            self.model,
            time.perf_counter() - started,
        )
        return predictor


def check_columns(
    columns: dict[str, str | None],
    *,
    text_column: str,
    output_column: str,
    id_column: str | None,
    what: str,
) -> None:
    """Before the job: the text (and id) column exists, the texts are strings, the output
    column is new.

    Args:
        columns: Each column's name and, for the text column, the engine's type name if it
            is not a string type (``None`` for string and null types).
        what: ``"dataset"`` or ``"DataFrame"``, for the messages.
    """
    for column in (text_column, id_column):
        if column is not None and column not in columns:
            raise ConfigError(
                f"the {what} has no column {column!r}; its columns are {list(columns)}."
            )
    if columns[text_column] is not None:
        raise InputTypeError(f"column {text_column!r} holds {columns[text_column]}, not strings.")
    if output_column in columns:
        raise ConfigError(
            f"the {what} already has a column {output_column!r}; pass another output_column."
        )


def batch_predictor(
    model: str | Path | BatchPredictor,
    config: PredictionConfig | None,
    num_threads: int | None = None,
) -> BatchPredictor:
    """What the engine wrappers ship: ``model`` checked (:func:`check_model`), as a
    :class:`BatchPredictor` (one that is given keeps its own options)."""
    if isinstance(model, BatchPredictor):
        return dataclasses.replace(model, model=check_model(model.model))
    return BatchPredictor(check_model(model), config=config, num_threads=num_threads)


def _bad_text(value: Any, column: str, index: int, ids: Sequence[Any] | None) -> str:
    where = f"id {ids[index]!r}" if ids is not None else f"row {index} of its batch"
    if value is None:
        return (
            f"column {column!r}, {where}: the text is null; drop null rows first or pass "
            "allow_null=True to give them a null result."
        )
    return f"column {column!r}, {where}: expected a string, got {type(value).__name__}."
