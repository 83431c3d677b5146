"""Batch prediction on Ray Data and Spark, for more documents than one process can take.

:func:`predict_ray` adds an entity column to a ``ray.data.Dataset`` through a pool of actors;
:func:`predict_spark` (or the UDF of :func:`spark_entities_udf`) adds one to a Spark
DataFrame. Both ship a :class:`BatchPredictor` (the model path and the options, a few bytes
pickled) to the workers, each of which loads the model once and sets its torch threads from
the CPUs the engine gave it. Entities are plain structs of :data:`ENTITY_FIELDS`.

Neither Ray nor PySpark is imported until one of these functions is called (the ``ray`` and
``spark`` extras install them); ``import ner_bert`` imports neither.
"""

from ._ray import predict_ray
from ._spark import predict_spark, spark_entities_udf, spark_entity_type
from .worker import ENTITY_FIELDS, BatchPredictor, entity_arrow_type, models_loaded

__all__ = [
    "ENTITY_FIELDS",
    "BatchPredictor",
    "entity_arrow_type",
    "models_loaded",
    "predict_ray",
    "predict_spark",
    "spark_entities_udf",
    "spark_entity_type",
]
