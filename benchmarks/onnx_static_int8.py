"""Static int8 quantization of the ONNX export, against the export's dynamic int8 and fp32.

Dynamic quantization (what ``ner-bert export --quantize int8`` writes) scales each batch's
activations by that batch's range, so an int8 sentence's entities can change with the other
sentences of its batch. Static quantization fixes the activation scales once, from calibration
text, which would make int8 results independent of the batch. This script measures whether it
is worth offering, on the same model and machine, in one run:

* ``onnx_fp32``: ``export_onnx(model, quantize="none")``, the reference for F1;
* ``onnx_int8_dynamic``: ``export_onnx(model, quantize="int8")``, the export's int8;
* ``static_ffn_fp32``: ONNX Runtime's ``quantize_static`` (QDQ format, min-max scales from
  ``--calibration`` CoNLL-2003 training sentences, one scale per weight column) of the fused
  fp32 graph, with the feed-forward output products in fp32 as the dynamic export keeps them;
* ``static_all``: the same with every matrix product in int8.

Each side predicts CoNLL-2003 test as raw text (the sentences of
``predict_throughput.py``) in one process, warmed up and with one garbage collection first;
sides are interleaved over ``--repeats`` and the median time reported. ``order`` counts the
sentences whose entities change when the texts are predicted in a shuffled order.

The static folders are copies of the fp32 export with ``model.onnx`` replaced; the size and
hash entry of ``ner_bert.json`` is dropped from the copies (the loader would otherwise refuse a
``model.onnx`` that is not the file the export saved, as it should).

Run (benchmarks never run concurrently)::

    flock /tmp/ner_bert_bench.lock .venv/bin/python benchmarks/onnx_static_int8.py \\
        --model benchmark-runs/model-sentence42
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from predict_throughput import (
    DEFAULT_DATA,
    ROOT,
    count_tokens,
    f1,
    load_texts,
    machine_info,
    make_runner,
    order_changes,
    warm_up,
)

STATIC_SIDES = {"static_ffn_fp32": True, "static_all": False}


def calibration_sentences(train: Path, count: int) -> list[str]:
    """Every tenth training sentence, words joined with spaces, ``count`` of them."""
    from ner_bert.data.conll import read_conll

    sentences = [" ".join(s.words) for s in read_conll(train)]
    return sentences[::10][:count]


def quantize_static_copy(fp32: Path, target: Path, texts: list[str], *, keep_ffn: bool) -> Path:
    """A copy of the fp32 export folder whose graph is statically quantized to int8."""
    import numpy as np
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from transformers import AutoConfig, AutoTokenizer

    # The export's own preparation, and the products it keeps in fp32.
    from ner_bert.model.onnx_export import prepare_for_quantization

    tokenizer = AutoTokenizer.from_pretrained(fp32)
    rows = tokenizer(texts)["input_ids"]

    class Sentences(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.items = iter(rows)

        def get_next(self) -> dict[str, Any] | None:
            row = next(self.items, None)
            if row is None:
                return None
            return {
                "input_ids": np.array([row], dtype=np.int64),
                "attention_mask": np.ones((1, len(row)), dtype=np.int64),
            }

    shutil.copytree(fp32, target)
    prepared, feed_forward_outputs = prepare_for_quantization(
        target / "model.onnx", AutoConfig.from_pretrained(fp32)
    )
    quantize_static(
        str(prepared),
        str(target / "model.onnx"),
        Sentences(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=feed_forward_outputs if keep_ffn else [],
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    prepared.unlink()
    metadata = json.loads((target / "ner_bert.json").read_text(encoding="utf-8"))
    metadata.pop("files", None)
    (target / "ner_bert.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return target


def timed_run(folder: Path, texts: list[str], gold: list[set[Any]]) -> dict[str, Any]:
    run, precision, _ = make_runner("onnx", folder)
    warm_up(run, texts)
    start = time.perf_counter()
    predicted = run(texts)
    seconds = time.perf_counter() - start
    return {
        "precision": precision,
        "seconds": seconds,
        **f1(gold, [{e[:3] for e in ents} for ents in predicted]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--calibration", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/onnx_static_int8.json"
    )
    args = parser.parse_args(argv)
    from ner_bert import export_onnx

    texts, gold = load_texts(args.data, None)
    calibration = calibration_sentences(args.data.with_name("train.txt"), args.calibration)
    with tempfile.TemporaryDirectory() as tmp:
        folders = {
            "onnx_fp32": export_onnx(args.model, Path(tmp, "onnx_fp32")),
            "onnx_int8_dynamic": export_onnx(
                args.model, Path(tmp, "onnx_int8_dynamic"), quantize="int8"
            ),
        }
        for side, keep_ffn in STATIC_SIDES.items():
            folders[side] = quantize_static_copy(
                folders["onnx_fp32"], Path(tmp, side), calibration, keep_ffn=keep_ffn
            )
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in folders}
        for repeat in range(args.repeats):
            for side, folder in folders.items():
                runs[side].append(timed_run(folder, texts, gold))
                print(
                    f"repeat {repeat + 1} {side:18} {runs[side][-1]['seconds']:6.2f}s", flush=True
                )
        orders = {
            side: order_changes(make_runner("onnx", f)[0], texts) for side, f in folders.items()
        }
    n_tokens = count_tokens(args.model, texts)
    reference = runs["onnx_fp32"][0]["entity_f1"]
    sides = {}
    for side, measured in runs.items():
        seconds = statistics.median(r["seconds"] for r in measured)
        sides[side] = {
            "median_seconds": seconds,
            "seconds": [round(r["seconds"], 3) for r in measured],
            "tokens_per_second": n_tokens / seconds,
            "entity_f1": measured[0]["entity_f1"],
            "f1_minus_fp32": measured[0]["entity_f1"] - reference,
            "sentences_with_other_entities_when_shuffled": orders[side][
                "sentences_with_other_entities"
            ],
        }
    result = {
        "benchmark": "onnx_static_int8",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info("onnxruntime"),
        "model": str(args.model),
        "sentences": len(texts),
        "subword_tokens": n_tokens,
        "calibration_sentences": len(calibration),
        "repeats": args.repeats,
        "sides": sides,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(sides, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
