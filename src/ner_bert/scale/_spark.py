"""Batch prediction on Spark: a ``pandas_udf`` that loads the model once per Python worker.

The UDF is of the iterator kind (``Iterator[pd.Series] -> Iterator[pd.Series]``): a task
loads (or, in a reused Python worker, finds) the model once and then predicts every Arrow
batch of its partition. It returns ``ArrayType(StructType(start, end, label, score, text))``,
so the entities are an ordinary Spark column: ``explode`` them, filter them, write them to
Parquet. The same code runs on ``local[N]`` and on a cluster.
"""

# No "from __future__ import annotations": pandas_udf reads the UDF's type hints, which must
# be real objects (they are built inside the factory, where pandas is imported).

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..config import PredictionConfig
from .worker import ENTITY_FIELDS, BatchPredictor, batch_predictor, check_columns

__all__ = ["predict_spark", "spark_entities_udf", "spark_entity_type"]

_SPARK_TYPES = {"int64": "LongType", "float64": "DoubleType", "string": "StringType"}


def spark_entity_type() -> Any:
    """``ArrayType(StructType(...))`` of the fields of :data:`ENTITY_FIELDS`."""
    from pyspark.sql import types

    fields = [
        types.StructField(name, getattr(types, _SPARK_TYPES[kind])(), nullable=False)
        for name, kind in ENTITY_FIELDS
    ]
    return types.ArrayType(types.StructType(fields), containsNull=False)


def spark_entities_udf(
    model: str | Path | BatchPredictor,
    *,
    config: PredictionConfig | None = None,
    num_threads: int | None = None,
    with_ids: bool = False,
    allow_null: bool = False,
    text_column: str = "text",
) -> Any:
    """A ``pandas_udf`` from a column of texts to a column of entity structs.

    Args:
        model: A model folder readable on every executor, a hub name, or a
            :class:`BatchPredictor` (for device, precision or batch-size overrides).
        config: Prediction options; ``None`` takes the settings saved with the model.
        num_threads: torch threads per task; ``None`` takes the task's CPUs
            (``spark.task.cpus``, 1 by default).
        with_ids: The UDF takes a second column, of document ids (named in errors).
        allow_null: A null text gives a null result instead of an error.
        text_column: The texts' column name, for error messages.

    Returns:
        The UDF: ``df.withColumn("entities", udf("text"))`` (``udf("text", "id")`` with ids).

    Raises:
        ModelLoadError: ``model`` is a local path that is not a complete model folder.
    """
    import pandas as pd
    from pyspark.sql.functions import pandas_udf  # type: ignore[attr-defined]

    predictor = batch_predictor(model, config, num_threads)

    def predict(texts: pd.Series, ids: pd.Series | None) -> pd.Series:
        worker = predictor.with_threads(_task_cpus())
        values = texts.astype(object).where(texts.notna(), None).tolist()
        records = worker(
            values,
            ids=None if ids is None else ids.tolist(),
            allow_null=allow_null,
            column=text_column,
        )
        return pd.Series(records, dtype=object)

    if with_ids:

        def entities_by_id(
            batches: Iterator[tuple[pd.Series, pd.Series]],
        ) -> Iterator[pd.Series]:
            for texts, ids in batches:
                yield predict(texts, ids)

        return pandas_udf(entities_by_id, spark_entity_type())

    def entities(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        for texts in batches:
            yield predict(texts, None)

    return pandas_udf(entities, spark_entity_type())


def predict_spark(
    frame: Any,
    model: str | Path | BatchPredictor,
    *,
    text_column: str = "text",
    output_column: str = "entities",
    id_column: str | None = None,
    config: PredictionConfig | None = None,
    num_threads: int | None = None,
    allow_null: bool = False,
) -> Any:
    """Add a column of entities to a Spark DataFrame (lazily, as Spark does).

    Args:
        frame: A ``pyspark.sql.DataFrame`` with a string column of texts.
        model: A model folder readable on every executor, a hub name, or a
            :class:`BatchPredictor` (for device, precision or batch-size overrides).
        text_column: The column of texts.
        output_column: The new column: per row, an array of ``{start, end, label, score,
            text}`` structs (character offsets into the row's text).
        id_column: A column of document ids, used to name a bad row in errors.
        config: Prediction options; ``None`` takes the settings saved with the model.
        num_threads: torch threads per task; ``None`` takes ``spark.task.cpus``.
        allow_null: A null text gives a null result instead of an error.

    Returns:
        The DataFrame with ``output_column`` added.

    Raises:
        ConfigError: A missing column or an output column that exists (before the job).
        InputTypeError: The text column is not of strings (before the job).
        ModelLoadError: ``model`` is a local path that is not a complete model folder.
    """
    from pyspark.sql import types

    strings = (types.StringType, types.NullType)
    check_columns(
        {
            field.name: None
            if isinstance(field.dataType, strings)
            else field.dataType.simpleString()
            for field in frame.schema.fields
        },
        text_column=text_column,
        output_column=output_column,
        id_column=id_column,
        what="DataFrame",
    )
    udf = spark_entities_udf(
        model,
        config=config,
        num_threads=num_threads,
        with_ids=id_column is not None,
        allow_null=allow_null,
        text_column=text_column,
    )
    columns = [text_column] if id_column is None else [text_column, id_column]
    return frame.withColumn(output_column, udf(*columns))


def _task_cpus() -> int | None:
    from pyspark import TaskContext

    context = TaskContext.get()
    return None if context is None else int(context.cpus())
