"""ner_bert.scale on a real local Ray and a real local Spark (local[2]), and the CLI's
``--engine``: entities equal to in-process predictions, one model load per worker, errors
before the job."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pyspark  # noqa: F401
import pytest
import ray  # the dev install has the ray and spark extras: these tests run, never skip

from ner_bert import InputTypeError, ModelLoadError, NERPredictor, PredictionConfig
from ner_bert.errors import ConfigError
from ner_bert.scale import BatchPredictor, models_loaded
from ner_bert.scale import _ray as scale_ray
from ner_bert.scale.worker import check_model

FP32 = PredictionConfig(precision="fp32")
NAMES = ("john smith", "mary", "paris", "london", "reuters", "berlin", "the european union")


def _texts(n: int) -> list[str]:
    """Distinct texts (up to 245) of varied lengths and entities, so batches mix lengths."""
    return [
        f"{NAMES[i % 7]} met {NAMES[(i // 7) % 7]} in {NAMES[(i + 2) % 7]} "
        + "and then left . " * ((i // 49) % 5)
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def expected(trained_tiny_model_dir: Path) -> dict[str, list[dict]]:
    predictor = NERPredictor.from_pretrained(trained_tiny_model_dir, config=FP32)
    texts = _texts(240)
    predicted = predictor.predict(texts)
    return {
        text: [e.to_dict() for e in entities]
        for text, entities in zip(texts, predicted, strict=True)
    }


def _same(records: list[dict], wanted: list[dict]) -> bool:
    """Same spans and labels, scores equal to float precision (fp32 in both)."""
    key = [(r["start"], r["end"], r["label"], r["text"]) for r in records]
    return key == [(r["start"], r["end"], r["label"], r["text"]) for r in wanted] and all(
        abs(r["score"] - w["score"]) < 1e-5 for r, w in zip(records, wanted, strict=True)
    )


# ------------------------------------------------------------------- the worker callable


def test_batch_predictor_pickles_loads_once_and_matches(trained_tiny_model_dir, expected):
    predictor = BatchPredictor(str(trained_tiny_model_dir), config=FP32)
    clone = pickle.loads(pickle.dumps(predictor))
    assert clone == predictor and len(pickle.dumps(predictor)) < 2000
    before = models_loaded()
    texts = list(expected)[:50]
    first, second = clone(texts[:25]), predictor(texts[25:])
    assert models_loaded() == before + 1  # the second instance found the first's model
    for text, records in zip(texts, first + second, strict=True):
        assert _same(records, expected[text])
        assert all(text[r["start"] : r["end"]] == r["text"] for r in records)
        assert all(type(r["score"]) is float for r in records)


def test_batch_predictor_names_a_bad_row(trained_tiny_model_dir):
    predictor = BatchPredictor(str(trained_tiny_model_dir), config=FP32)
    with pytest.raises(InputTypeError, match=r"column 'body', id 'doc-2': the text is null"):
        predictor(["mary", "paris", None], ids=["doc-0", "doc-1", "doc-2"], column="body")
    with pytest.raises(InputTypeError, match=r"row 1 of its batch: expected a string, got int"):
        predictor(["mary", 7])
    assert predictor(["mary", None], allow_null=True)[1] is None


def test_a_model_path_that_is_not_a_model_is_refused_on_the_driver(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match=r"model\.safetensors is missing"):
        check_model(tmp_path)
    with pytest.raises(ModelLoadError, match="model directory not found"):
        check_model(tmp_path / "missing")


def test_import_ner_bert_imports_neither_engine():
    code = (
        "import sys, ner_bert, ner_bert.scale, ner_bert.cli;"
        "print(sorted(m for m in ('ray', 'pyspark') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -------------------------------------------------------------------------------- Ray


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _ray_dataset(texts, **columns):
    import ray.data

    rows = [{"id": i, "text": text, **columns} for i, text in enumerate(texts)]
    return ray.data.from_items(rows, override_num_blocks=6)


def test_ray_entities_equal_in_process(local_ray, trained_tiny_model_dir, expected):
    from ner_bert.scale import predict_ray

    texts = list(expected)
    result = predict_ray(
        _ray_dataset(texts), trained_tiny_model_dir, concurrency=2, batch_size=16, config=FP32
    )
    rows = sorted(result.take_all(), key=lambda row: row["id"])
    assert [row["text"] for row in rows] == texts
    assert all(_same(row["entities"], expected[row["text"]]) for row in rows)


class _CountingActor(scale_ray._EntityActor):
    """The library's actor with the worker's pid and model-load count on each row."""

    def __call__(self, batch):
        import pyarrow as pa

        out = super().__call__(batch)
        out = out.append_column("pid", pa.array([os.getpid()] * len(out)))
        return out.append_column("loads", pa.array([models_loaded()] * len(out)))


def test_ray_loads_the_model_once_per_actor(local_ray, trained_tiny_model_dir, monkeypatch):
    from ray import cloudpickle

    from ner_bert.scale import predict_ray

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setattr(scale_ray, "_EntityActor", _CountingActor)
    result = predict_ray(
        _ray_dataset(_texts(120)), trained_tiny_model_dir, concurrency=2, batch_size=8
    )
    rows = result.take_all()
    assert len(rows) == 120 and {row["loads"] for row in rows} == {1}
    assert 1 <= len({row["pid"] for row in rows}) <= 2  # 15 batches, at most 2 processes


def test_ray_refuses_bad_columns_before_the_job(local_ray, trained_tiny_model_dir):
    import ray.data

    from ner_bert.scale import predict_ray

    dataset = _ray_dataset(["mary"])
    with pytest.raises(ConfigError, match=r"no column 'body'; its columns are \['id', 'text'\]"):
        predict_ray(dataset, trained_tiny_model_dir, text_column="body")
    with pytest.raises(InputTypeError, match="column 'id' holds int64, not strings"):
        predict_ray(dataset, trained_tiny_model_dir, text_column="id")
    with pytest.raises(ConfigError, match="already has a column 'text'"):
        predict_ray(dataset, trained_tiny_model_dir, output_column="text")
    with pytest.raises(ConfigError, match="concurrency must be a positive integer"):
        predict_ray(dataset, trained_tiny_model_dir, concurrency=0)
    # Raised in an actor: Ray wraps it (RayTaskError) with the ner_bert message inside.
    pattern = r"InputTypeError: column 'text', id 1: the text is null"
    with pytest.raises(ray.exceptions.RayTaskError, match=pattern):
        predict_ray(
            ray.data.from_items([{"id": 0, "text": "mary"}, {"id": 1, "text": None}]),
            trained_tiny_model_dir,
            id_column="id",
        ).take_all()


# ------------------------------------------------------------------------------ Spark


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    old = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers need this venv's interpreter
    session = (
        SparkSession.builder.master("local[2]")
        .appName("ner_bert tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    if old is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = old


def _frame(spark, texts):
    rows = [(i, text) for i, text in enumerate(texts)]
    return spark.createDataFrame(rows, "id long, text string").repartition(8)


def test_spark_entities_equal_in_process_and_load_once_per_worker(
    spark, trained_tiny_model_dir, expected
):
    import pandas as pd
    from pyspark import cloudpickle
    from pyspark.sql.functions import pandas_udf

    from ner_bert.scale import predict_spark

    texts = list(expected)
    result = predict_spark(_frame(spark, texts), trained_tiny_model_dir, config=FP32)
    assert result.schema["entities"].dataType.simpleString() == (
        "array<struct<start:bigint,end:bigint,label:string,score:double,text:string>>"
    )
    rows = [row.asDict(recursive=True) for row in result.orderBy("id").collect()]
    assert [row["text"] for row in rows] == texts
    assert all(_same(row["entities"], expected[row["text"]]) for row in rows)

    # The same (reused) Python workers, asked how many models they loaded for 8 tasks.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])

    def count(ids):
        from ner_bert.scale import models_loaded

        return pd.Series([models_loaded()] * len(ids))

    # pandas_udf reads real type hints; this module's are strings (future annotations).
    count.__annotations__ = {"ids": pd.Series, "return": pd.Series}
    loads = pandas_udf(count, "long")

    counts = {
        row.n
        for row in spark.range(0, 64, numPartitions=8).select(loads("id").alias("n")).collect()
    }
    assert counts <= {0, 1} and 1 in counts


def test_spark_refuses_bad_columns_before_the_job(spark, trained_tiny_model_dir):
    from pyspark.errors import PythonException

    from ner_bert.scale import predict_spark

    frame = _frame(spark, ["mary", None])
    with pytest.raises(ConfigError, match=r"no column 'body'; its columns are \['id', 'text'\]"):
        predict_spark(frame, trained_tiny_model_dir, text_column="body")
    with pytest.raises(InputTypeError, match="column 'id' holds bigint, not strings"):
        predict_spark(frame, trained_tiny_model_dir, text_column="id")
    with pytest.raises(PythonException, match=r"column 'text', id 1: the text is null"):
        predict_spark(frame, trained_tiny_model_dir, id_column="id").collect()
    kept = predict_spark(frame, trained_tiny_model_dir, allow_null=True).orderBy("id").collect()
    assert kept[1].entities is None and kept[0].entities[0].text == "mary"


# -------------------------------------------------------------------------------- CLI


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYSPARK_PYTHON": sys.executable}
    command = [sys.executable, "-m", "ner_bert", "predict", "--no-progress", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def _read_jsonl_folder(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(p for p in folder.glob("*.json*") if not p.name.startswith(".")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


@pytest.mark.parametrize("engine", ["spark", "ray"])
def test_cli_engine_writes_a_folder_equal_to_in_process(
    engine, tmp_path, trained_tiny_model_dir, expected
):
    texts = list(expected)[:60]
    inputs = tmp_path / "in"
    inputs.mkdir()
    for part in range(2):
        lines = [
            json.dumps({"doc": f"d{i}", "body": t}) for i, t in enumerate(texts) if i % 2 == part
        ]
        (inputs / f"part-{part}.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    args = ["--engine", engine, "--model", str(trained_tiny_model_dir), str(inputs)]
    args += ["--output", str(out), "--output-format", "jsonl", "--text-field", "body"]
    args += ["--id-field", "doc", "--workers", "2", "--precision", "fp32"]
    run = _cli(*args)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"wrote {out}" in run.stderr
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    rows = {row["doc"]: row for row in _read_jsonl_folder(out)}
    assert len(rows) == 60
    assert all(_same(rows[f"d{i}"]["entities"], expected[t]) for i, t in enumerate(texts))
    again = _cli(*args)
    assert again.returncode == 2 and "exists; pass --overwrite" in again.stderr
    assert len(_read_jsonl_folder(out)) == 60  # untouched


def test_cli_engine_checks_before_the_job(tmp_path, trained_tiny_model_dir):
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "mary"}\n')
    model = ["--model", str(trained_tiny_model_dir)]
    missing = _cli(
        "--engine",
        "spark",
        *model,
        str(data),
        "--output",
        str(tmp_path / "o"),
        "--text-field",
        "body",
    )
    assert missing.returncode == 2
    assert "no column 'body'; its columns are ['text']" in missing.stderr
    assert "Traceback" not in missing.stderr and not (tmp_path / "o").exists()
    odd = tmp_path / "in.csv"
    odd.write_text("text\nmary\n")
    wrong = _cli("--engine", "ray", *model, str(odd), "--output", str(tmp_path / "o"))
    assert wrong.returncode == 2 and "reads .jsonl and .parquet files (got .csv)" in wrong.stderr
    no_output = _cli("--engine", "ray", *model, str(data))
    assert no_output.returncode == 2 and "--engine needs --output FOLDER" in no_output.stderr
    tokenized = _cli("--engine", "ray", *model, str(data), "-o", str(tmp_path / "o"), "--tokenized")
    assert tokenized.returncode == 2 and "--tokenized does not go with --engine" in tokenized.stderr
    bad_model = _cli(
        "--engine", "spark", "--model", str(tmp_path), str(data), "-o", str(tmp_path / "o")
    )
    assert bad_model.returncode == 2 and "config.json is missing" in bad_model.stderr


@pytest.mark.parametrize("engine", ["spark", "ray"])
def test_cli_engine_reports_a_worker_error_in_one_line(engine, tmp_path, trained_tiny_model_dir):
    data = tmp_path / "in.jsonl"
    data.write_text('{"id": "a", "text": "mary"}\n{"id": "b", "text": null}\n')
    out = tmp_path / "out"
    base = ["--engine", engine, "--model", str(trained_tiny_model_dir), str(data), "-o", str(out)]
    run = _cli(*base, "--id-field", "id")
    assert run.returncode == 2, run.stderr[-2000:]
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("ner-bert: error: column 'text', id 'b': the text is null"), last
    assert not out.exists() and not list(tmp_path.glob(".out*"))
    kept = _cli(*base, "--output-format", "jsonl", "--allow-null")
    assert kept.returncode == 0, kept.stderr[-2000:]
    rows = {row["id"]: row for row in _read_jsonl_folder(out)}
    assert rows["b"]["entities"] is None and rows["a"]["entities"][0]["text"] == "mary"
