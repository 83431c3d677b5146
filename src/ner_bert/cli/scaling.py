"""``ner-bert predict --engine ray|spark``: folders of JSONL or Parquet in, the same out.

The command checks everything it can before an engine starts (inputs, their format, the
output folder, the model folder, the text column), then reads the inputs with the engine's
own reader, adds an ``entities`` column through :mod:`ner_bert.scale` and writes a folder of
part files with the engine's own writer. The folder is written beside its final place and
swapped in when complete, so a failed or killed job leaves no half-written output and an
existing folder is only replaced with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Any

from .. import errors
from ..errors import DataFormatError, DataNotFoundError, NerBertError
from ..model.atomic import staged_folder
from .commands import PROG, UsageError
from .options import positive_int

__all__ = ["add_engine_arguments", "predict_on_engine"]

ENGINES = ("ray", "spark")
_FORMATS = {".jsonl": "json", ".json": "json", ".ndjson": "json", ".parquet": "parquet"}
_EXTRAS = {"ray": ("ray", "ray"), "spark": ("pyspark", "spark")}
RAY_BATCH_ROWS = 2048
"""Rows per Ray actor call and per block fed to the actors (predict_ray's default)."""


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``predict`` that only ``--engine`` runs use."""
    group = parser.add_argument_group(
        "batch prediction on Ray or Spark (--engine)",
        "Inputs are JSONL or Parquet files or folders of them; --output is a folder of part "
        "files with every input column and an 'entities' column.",
    )
    group.add_argument("--engine", choices=ENGINES, help="run on Ray Data or Spark")
    group.add_argument(
        "--output-format",
        choices=("parquet", "jsonl"),
        default="parquet",
        help="format of the --output folder's files (default parquet)",
    )
    group.add_argument("--text-field", default="text", help="column of texts (default text)")
    group.add_argument("--id-field", help="column of document ids (named in errors)")
    group.add_argument(
        "--workers", type=positive_int, default=1, metavar="N", help="worker processes (default 1)"
    )
    group.add_argument(
        "--threads-per-worker",
        type=positive_int,
        default=1,
        metavar="N",
        help="torch threads (and CPUs reserved) per worker (default 1)",
    )
    group.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="Ray address or Spark master URL (default: a local engine of --workers processes)",
    )
    group.add_argument(
        "--allow-null", action="store_true", help="a null text gets null entities, not an error"
    )


def predict_on_engine(args: argparse.Namespace) -> int:
    """``ner-bert predict --engine ...``."""
    _check_engine_options(args)
    inputs, data_format = _input_files(args.files)
    _check_output(args.output, inputs, overwrite=args.overwrite)
    from ..scale.worker import check_model

    model = check_model(args.model)
    with staged_folder(args.output) as staging:
        run = _run_ray if args.engine == "ray" else _run_spark
        try:
            run(args, model, inputs, data_format, staging)
        except NerBertError:
            raise
        except Exception as exc:  # the engine's wrapper of a worker's error
            error = worker_error(exc)
            if error is None:
                raise
            raise error from exc
        parts = sum(1 for path in staging.iterdir() if not path.name.startswith(("_", ".")))
    print(f"wrote {args.output} ({parts} {args.output_format} files)", file=sys.stderr)
    return 0


def worker_error(exc: BaseException) -> NerBertError | None:
    """The ner_bert error that a worker raised, out of the engine's wrapper of it.

    Ray raises a ``RayTaskError`` whose cause chain holds the worker's exception; Spark a
    ``PythonException`` with only the worker's traceback as text. Either way the user gets
    the one-line ner_bert message, not the engine's page of traceback.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, NerBertError):
            return seen
        cause = getattr(seen, "cause", None)  # RayTaskError.cause
        seen = cause if isinstance(cause, BaseException) else seen.__cause__
    found = re.findall(r"ner_bert\.errors\.(\w+): ([^\n]+)", str(exc))
    if not found:
        return None
    name, message = found[-1]
    kind = getattr(errors, name, NerBertError)
    return kind(message) if isinstance(kind, type) and issubclass(kind, NerBertError) else None


def _check_engine_options(args: argparse.Namespace) -> None:
    module, extra = _EXTRAS[args.engine]
    if importlib.util.find_spec(module) is None:
        raise UsageError(
            f"{PROG} predict: error: --engine {args.engine} needs {module}, which is not "
            f"installed: pip install 'ner-bert[{extra}]'"
        )
    for flag in ("tokenized", "whole_file", "html"):
        if getattr(args, flag):
            option = "--" + flag.replace("_", "-")
            raise UsageError(f"{PROG} predict: error: {option} does not go with --engine")
    if args.output is None:
        raise UsageError(f"{PROG} predict: error: --engine needs --output FOLDER")


def _input_files(paths: list[Path]) -> tuple[list[str], str]:
    """The input files (folders expanded) and their one format, ``json`` or ``parquet``."""
    if not paths or any(str(path) == "-" for path in paths):
        raise UsageError(f"{PROG} predict: error: --engine reads files or folders, not stdin")
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and not p.name.startswith(("_", "."))
            )
            if not found:
                raise DataNotFoundError(f"{path}: the folder has no input files.")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise DataNotFoundError(f"{path}: no such file or folder.")
    formats = {_FORMATS.get(p.suffix.lower()) for p in files}
    if None in formats:
        odd = next(p for p in files if p.suffix.lower() not in _FORMATS)
        raise UsageError(
            f"{PROG} predict: error: {odd}: --engine reads .jsonl and .parquet files "
            f"(got {odd.suffix or 'no extension'})"
        )
    if len(formats) > 1:
        raise UsageError(f"{PROG} predict: error: the inputs mix JSONL and Parquet files")
    return [str(p.resolve()) for p in files], formats.pop()  # type: ignore[return-value]


def _check_output(output: Path, inputs: list[str], *, overwrite: bool) -> None:
    target = output.resolve()
    if any(Path(p).is_relative_to(target) for p in inputs):
        raise UsageError(
            f"{PROG} predict: error: {output} holds inputs; writing it would destroy them"
        )
    if not target.parent.is_dir():
        raise DataNotFoundError(f"{output}: its folder does not exist; create it first.")
    if output.exists() and not overwrite:
        raise UsageError(f"{PROG} predict: error: {output} exists; pass --overwrite to replace it")
    if output.exists() and not output.is_dir():
        raise UsageError(f"{PROG} predict: error: {output} is a file; --engine writes a folder")


def _batch_predictor(args: argparse.Namespace, model: str) -> Any:
    from ..scale import BatchPredictor

    return BatchPredictor(
        model, device=args.device, precision=args.precision, batch_size=args.batch_size
    )


def _run_ray(
    args: argparse.Namespace, model: str, inputs: list[str], data_format: str, staging: Path
) -> None:
    import ray
    import ray.data

    from ..scale import predict_ray

    if args.cluster:
        ray.init(address=args.cluster)
    else:
        # Local: the actors' CPUs (even beyond the machine's count, if asked for) and one
        # more for the read and write tasks, which would otherwise wait for the actors.
        needed = args.workers * args.threads_per_worker
        ray.init(num_cpus=max(needed, os.cpu_count() or 1) + 1)
    if args.progress is not None:
        ray.data.DataContext.get_current().enable_progress_bars = bool(args.progress)
    reader = ray.data.read_json if data_format == "json" else ray.data.read_parquet
    # Blocks of at most one batch, so that a few small files still feed every actor (this
    # streaming split runs in the read tasks' CPU reserved above).
    texts = reader(inputs).repartition(target_num_rows_per_block=RAY_BATCH_ROWS)
    dataset = predict_ray(
        texts,
        _batch_predictor(args, model),
        text_column=args.text_field,
        id_column=args.id_field,
        concurrency=args.workers,
        num_cpus=args.threads_per_worker,
        allow_null=args.allow_null,
        batch_size=RAY_BATCH_ROWS,
    )
    if args.output_format == "parquet":
        dataset.write_parquet(str(staging))
    else:
        dataset.write_json(str(staging))
    ray.shutdown()


def _run_spark(
    args: argparse.Namespace, model: str, inputs: list[str], data_format: str, staging: Path
) -> None:
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    from ..scale import predict_spark

    # Spark's Python workers run PYSPARK_PYTHON (python3 on the PATH by default); this
    # interpreter is the one that has ner_bert and torch.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(f"{PROG} predict")
    if args.cluster:
        builder = builder.master(args.cluster)
    elif not SparkConf().contains("spark.master"):  # not under spark-submit
        builder = builder.master(f"local[{args.workers * args.threads_per_worker}]")
    spark = builder.config("spark.task.cpus", str(args.threads_per_worker)).getOrCreate()
    try:
        try:
            if data_format == "json":
                frame = spark.read.json(inputs)
            else:
                frame = spark.read.parquet(*inputs)
        except Exception as exc:  # Spark's AnalysisException has no narrower public base
            raise DataFormatError(f"Spark could not read the inputs: {exc}") from exc
        frame = predict_spark(
            frame,
            _batch_predictor(args, model),
            text_column=args.text_field,
            id_column=args.id_field,
            allow_null=args.allow_null,
        )
        writer = frame.write.mode("overwrite")  # the staging folder is ours and empty
        if args.output_format == "parquet":
            writer.parquet(str(staging))
        else:
            writer.option("ignoreNullFields", "false").json(str(staging))  # keep nulls
        for checksum in staging.glob(".*.crc"):  # Hadoop's local checksums: clutter here
            checksum.unlink()
    finally:
        spark.stop()
