"""Batch prediction on Ray Data and Spark against in-process ``predict``, same cores.

CoNLL-2003 test sentences as raw text (words joined by spaces), repeated to about 50,000
texts, fp32 (so that every engine must give the in-process entities exactly). Each
configuration runs in its own fresh process, one after the other:

* ``inprocess-tN``      ``NERPredictor.predict`` with N torch threads
* ``ray-wW-tN``         ``predict_ray`` on a local Ray, W actors of N threads (num_cpus=N)
* ``spark-wW-tN``       ``predict_spark`` on ``local[W*N]`` with ``spark.task.cpus=N``

The job is a data lake's: the texts are 32 Parquet files (id, text) and the entities are
written as Parquet beside them; in process, pyarrow reads and writes the same files. Job time
is from reading the input to the last output file written (actor start-up and model loading
included; the engine's own start-up, ``ray.init`` or the Spark JVM, reported apart). The
entities are read back afterwards and compared with the in-process ones. Throughput is texts
per second of job time; overhead is ``1 - engine throughput / in-process throughput`` with the
same total threads.

Run (benchmarks never run concurrently)::

    flock /tmp/ner_bert_bench.lock .venv/bin/python benchmarks/scale_predict.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_MODEL = ROOT / "benchmark-runs" / "model-sentence42"
DEFAULT_DATA = Path(os.environ.get("NER_BERT_DATA", ROOT.parent / "shared/data/conll2003"))
CONFIGS = (
    "inprocess-t2",
    "ray-w2-t1",
    "spark-w2-t1",
    "inprocess-t1",
    "ray-w1-t1",
    "ray-w1-t2",
    "ray-w2-t2",
    "spark-w1-t2",
    "spark-w2-t2",
)
REFERENCE = {1: "inprocess-t1", 2: "inprocess-t2"}


def load_texts(data: Path, repeat: int) -> list[str]:
    from ner_bert.data.conll import read_conll

    sentences = [" ".join(s.words) for s in read_conll(data / "test.txt")]
    return [text for _ in range(repeat) for text in sentences]


def run_config(name: str, model: Path, data: Path, out: Path) -> dict[str, Any]:
    """One configuration, in this process: Parquet in, entities out as Parquet (a data
    lake's job); the timings, and the entities per text read back afterwards."""
    from ner_bert import PredictionConfig

    kind, *rest = name.split("-")
    options = dict((part[0], int(part[1:])) for part in rest)
    workers, threads = options.get("w", 1), options["t"]
    config = PredictionConfig(precision="fp32")
    started = time.perf_counter()
    if kind == "inprocess":
        import pyarrow as pa
        import pyarrow.parquet as pq

        from ner_bert import NERPredictor
        from ner_bert.scale import entity_arrow_type

        predictor = NERPredictor.from_pretrained(
            model, config=PredictionConfig(precision="fp32", num_threads=threads)
        )
        engine_start = time.perf_counter() - started
        began = time.perf_counter()
        table = pq.read_table(data)
        found = [
            [e.to_dict() for e in ents] for ents in predictor.predict(table["text"].to_pylist())
        ]
        table = table.append_column("entities", pa.array(found, type=entity_arrow_type()))
        pq.write_table(table, out / "part-0.parquet")
    elif kind == "ray":
        import ray
        import ray.data

        from ner_bert.scale import predict_ray

        ray.init(num_cpus=max(workers * threads, 2) + 1, include_dashboard=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        engine_start = time.perf_counter() - started
        began = time.perf_counter()
        # As ner-bert predict --engine ray does: blocks of one batch, so that every actor
        # gets work (the 32 small files would otherwise be read as one block).
        dataset = ray.data.read_parquet(str(data)).repartition(target_num_rows_per_block=2048)
        result = predict_ray(dataset, model, concurrency=workers, num_cpus=threads, config=config)
        result.write_parquet(str(out))
        ray.shutdown()
    else:
        from pyspark.sql import SparkSession

        from ner_bert.scale import predict_spark

        os.environ["PYSPARK_PYTHON"] = sys.executable
        spark = (
            SparkSession.builder.master(f"local[{workers * threads}]")
            .config("spark.task.cpus", str(threads))
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "4g")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        engine_start = time.perf_counter() - started
        began = time.perf_counter()
        frame = spark.read.parquet(str(data))
        predict_spark(frame, model, config=config).write.parquet(str(out), mode="overwrite")
        spark.stop()
    seconds = time.perf_counter() - began
    return {
        "config": name,
        "workers": workers,
        "threads_per_worker": threads,
        "engine_start_seconds": engine_start,
        "job_seconds": seconds,
        "entities": read_entities(out),
    }


def write_input(texts: list[str], folder: Path, files: int = 32) -> None:
    """The texts as ``files`` Parquet files with columns id, text (the engines' input)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(texts) // files)
    for part in range(files):
        ids = list(range(part * size, min(len(texts), (part + 1) * size)))
        table = pa.table({"id": ids, "text": [texts[i] for i in ids]})
        pq.write_table(table, folder / f"part-{part:03d}.parquet")


def read_entities(folder: Path) -> list[list[tuple[int, int, str]]]:
    """Every text's entities from an output folder, in id order."""
    import pyarrow.parquet as pq

    table = pq.read_table(folder, columns=["id", "entities"])
    rows = sorted(zip(table["id"].to_pylist(), table["entities"].to_pylist(), strict=True))
    return [[(e["start"], e["end"], e["label"]) for e in ents or []] for _, ents in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=15, help="copies of CoNLL test (15: 51,795)")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--results", type=Path, default=HERE / "results" / "scale_predict.json")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # one configuration, in a child
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        result = run_config(args.run, args.model, args.data, args.out / "entities")
        (args.out / "run.json").write_text(json.dumps(result), encoding="utf-8")
        return 0

    sys.path.insert(0, str(HERE))
    from train_conll import machine

    texts = load_texts(args.data, args.repeat)
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        source = Path(tmp) / "input"
        write_input(texts, source)
        for name in args.configs:
            out = Path(tmp) / name
            (out / "entities").mkdir(parents=True)
            command = [sys.executable, __file__, "--run", name, "--out", str(out)]
            command += ["--model", str(args.model), "--data", str(source)]
            subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            runs[name] = json.loads((out / "run.json").read_text(encoding="utf-8"))
            runs[name]["texts_per_second"] = len(texts) / runs[name]["job_seconds"]
            print(name, f"{runs[name]['texts_per_second']:.1f} texts/s", flush=True)
    rows = []
    for name, run in runs.items():
        total = run["workers"] * run["threads_per_worker"]
        reference = runs.get(REFERENCE.get(min(total, 2), ""))
        row = {k: v for k, v in run.items() if k != "entities"}
        if reference is not None and name != reference["config"]:
            row["reference"] = reference["config"]
            row["overhead"] = 1 - run["texts_per_second"] / reference["texts_per_second"]
            row["texts_differing_from_reference"] = sum(
                a != b for a, b in zip(run["entities"], reference["entities"], strict=True)
            )
        rows.append(row)
    result = {
        "benchmark": "scale_predict",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "model": str(args.model),
        "texts": len(texts),
        "job": "Parquet in (32 files), entities out as Parquet",
        "precision": "fp32",
        "runs": rows,
        "engine_overhead_median": statistics.median(
            r["overhead"]
            for r in rows
            if "overhead" in r and r["workers"] * r["threads_per_worker"] <= 2
        ),
    }
    args.results.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
