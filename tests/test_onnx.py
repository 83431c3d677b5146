"""ONNX export (``ner-bert export``, ``export_onnx``) and prediction with ONNX Runtime.

Real exports of a tiny trained BERT with torch.onnx, run by ONNX Runtime through
``NERPredictor`` and by a plain ``onnxruntime.InferenceSession``; outputs compared with torch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from ner_bert import NERPredictor, PredictionConfig, export_onnx
from ner_bert.errors import ConfigError, MissingDependencyError, ModelLoadError

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
TEXTS = [
    "john smith lives in paris .",
    "mary visited berlin with the european union and reuters .",
    "nothing here",
    "",
    " ".join(["john smith met mary in london ."] * 12),  # longer than one 32-token window
]


@pytest.fixture(scope="module")
def ner_folder(trained_tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny trained model saved as a ner_bert folder (with ner_bert.json)."""
    folder = tmp_path_factory.mktemp("onnx") / "trained"
    NERPredictor.from_pretrained(trained_tiny_model_dir).save(folder)
    return folder


@pytest.fixture(scope="module")
def fp32_export(ner_folder: Path) -> Path:
    return export_onnx(ner_folder, ner_folder.parent / "fp32")


@pytest.fixture(scope="module")
def int8_export(ner_folder: Path) -> Path:
    return export_onnx(ner_folder, ner_folder.parent / "int8", quantize="int8")


def _spans(predictor: NERPredictor) -> list[list[tuple[str, int, int]]]:
    return [[(e.label, e.start, e.end) for e in ents] for ents in predictor.predict(TEXTS)]


def test_export_writes_a_checked_folder(fp32_export: Path) -> None:
    names = sorted(p.name for p in fp32_export.iterdir())
    assert {"model.onnx", "config.json", "ner_bert.json", "tokenizer.json", "README.md"} <= set(
        names
    )
    assert "model.safetensors" not in names
    meta = json.loads((fp32_export / "ner_bert.json").read_text())
    assert meta["runtime"] == "onnx"
    assert meta["onnx"]["quantization"] == "none"
    assert meta["onnx"]["fp32_max_abs_logit_diff"] < 1e-4
    assert "model.onnx" in meta["files"]


def test_plain_onnxruntime_matches_torch(fp32_export: Path, ner_folder: Path) -> None:
    import onnxruntime as ort
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(fp32_export)
    batch = tokenizer(TEXTS[:3], padding=True, return_tensors="np")
    session = ort.InferenceSession(str(fp32_export / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask"]
    (logits,) = session.run(
        ["logits"],
        {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]},
    )
    model = AutoModelForTokenClassification.from_pretrained(ner_folder).eval()
    with torch.inference_mode():
        expected = model(
            input_ids=torch.from_numpy(batch["input_ids"]),
            attention_mask=torch.from_numpy(batch["attention_mask"]),
        ).logits.numpy()
    mask = batch["attention_mask"].astype(bool)
    assert logits.shape == expected.shape
    assert np.abs(logits - expected)[mask].max() < 1e-4


def test_the_export_fuses_attention_layernorm_and_gelu(
    fp32_export: Path, ner_folder: Path
) -> None:
    import onnx

    layers = json.loads((ner_folder / "config.json").read_text())["num_hidden_layers"]
    assert json.loads((fp32_export / "ner_bert.json").read_text())["onnx"]["fused"] is True
    operators = [node.op_type for node in onnx.load(str(fp32_export / "model.onnx")).graph.node]
    assert operators.count("Attention") == layers
    assert operators.count("BiasGelu") == layers
    assert operators.count("SkipLayerNormalization") == 2 * layers


def test_the_dynamo_exporter_is_the_fallback_and_matches_torch(
    ner_folder: Path, tmp_path: Path
) -> None:
    import onnx

    from ner_bert.model.loading import load_model
    from ner_bert.model.onnx_export import (
        _compare_with_torch,
        _export_dynamo,
        _exporters_quiet,
        _sample_batch,
    )

    loaded = load_model(ner_folder)
    sample = _sample_batch(loaded.tokenizer, loaded.model.config)
    with _exporters_quiet():
        _export_dynamo(loaded.model.eval(), sample, tmp_path / "model.onnx")
    check = _compare_with_torch(loaded.model, tmp_path / "model.onnx", sample)
    assert check["fp32_max_abs_logit_diff"] < 1e-4
    operators = {node.op_type for node in onnx.load(str(tmp_path / "model.onnx")).graph.node}
    assert "Attention" not in operators and "MatMul" in operators


def test_onnx_predictor_gives_torch_entities(fp32_export: Path, ner_folder: Path) -> None:
    torch_side = NERPredictor.from_pretrained(ner_folder, precision="fp32")
    onnx_side = NERPredictor.from_pretrained(fp32_export)
    assert onnx_side.precision == "fp32"
    assert _spans(onnx_side) == _spans(torch_side)
    assert any(_spans(onnx_side))  # the tiny model does find entities
    for torch_ents, onnx_ents in zip(
        torch_side.predict(TEXTS), onnx_side.predict(TEXTS), strict=True
    ):
        for a, b in zip(torch_ents, onnx_ents, strict=True):
            assert abs(a.score - b.score) < 1e-4
    words = [["john", "smith", "lives", "in", "paris"]]
    tags = [p.tag for p in onnx_side.predict_words(words)[0]]
    assert tags == [p.tag for p in torch_side.predict_words(words)[0]]
    assert tags == ["B-PER", "I-PER", "O", "O", "B-LOC"]


def test_int8_export_runs_with_the_same_api(int8_export: Path, fp32_export: Path) -> None:
    meta = json.loads((int8_export / "ner_bert.json").read_text())
    assert meta["onnx"]["quantization"] == "int8"
    assert meta["onnx"]["int8_argmax_agreement"] >= 0.9
    assert (int8_export / "model.onnx").stat().st_size < (fp32_export / "model.onnx").stat().st_size
    predictor = NERPredictor.from_pretrained(int8_export)
    assert predictor.precision == "int8"
    for text, entities in zip(TEXTS, predictor.predict(TEXTS), strict=True):
        for entity in entities:
            assert text[entity.start : entity.end] == entity.text
            assert isinstance(entity.score, float)
    assert [e.label for e in predictor.predict_text("john smith lives in paris .")] == [
        "PER",
        "LOC",
    ]


def test_int8_keeps_the_feed_forward_outputs_fp32(int8_export: Path, ner_folder: Path) -> None:
    import onnx
    from onnx import numpy_helper

    config = json.loads((ner_folder / "config.json").read_text())
    hidden, inner, layers = (
        config[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers")
    )
    graph = onnx.load(str(int8_export / "model.onnx")).graph
    weights = {item.name: numpy_helper.to_array(item) for item in graph.initializer}
    integer = [n for n in graph.node if n.op_type in ("MatMulInteger", "QAttention")]
    shapes = {name: array.shape for name, array in weights.items()}
    fp32_ffn_out = [
        n
        for n in graph.node
        if n.op_type == "MatMul" and any(shapes.get(x) == (inner, hidden) for x in n.input)
    ]
    # Per layer: the fused attention (query, key and value products), the attention output
    # and feed-forward input products in int8, the feed-forward output in fp32; and the
    # classifier in int8.
    assert len(fp32_ffn_out) == layers
    assert [n.op_type for n in integer].count("QAttention") == layers
    assert [n.op_type for n in integer].count("MatMulInteger") == 2 * layers + 1
    # Per output column quantization of the products: a weight zero point per column.
    zero_points = [weights[n.input[3]] for n in integer if n.op_type == "MatMulInteger"]
    assert all(z.ndim == 1 and z.size > 1 for z in zero_points)


def test_saving_an_onnx_predictor_writes_a_loadable_copy(fp32_export: Path, tmp_path: Path) -> None:
    predictor = NERPredictor.from_pretrained(
        fp32_export, config=PredictionConfig(aggregation="max")
    )
    predictor.save(tmp_path / "copy")
    again = NERPredictor.from_pretrained(tmp_path / "copy")
    assert again.config.aggregation == "max"
    assert again.precision == "fp32"
    assert _spans(again) == _spans(predictor)
    with pytest.raises(ConfigError, match="already holds a ner_bert model"):
        predictor.save(tmp_path / "copy")


def test_cli_export_then_predict(ner_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli-int8"
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "ner_bert", "export", "--model", str(ner_folder), "--output",
         str(out), "--quantize", "int8"],
        capture_output=True, text=True, env=ENV, timeout=600, cwd=workdir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # ONNX Runtime's tools can drop temporary graphs into the working directory; none here.
    assert list(workdir.iterdir()) == []
    assert f"exported {ner_folder} to {out}" in done.stdout
    assert done.stderr == ""  # the exporters' own chatter is silenced
    predicted = subprocess.run(
        [sys.executable, "-m", "ner_bert", "predict", "--model", str(out), "-"],
        input="john smith lives in paris .\n", capture_output=True, text=True, env=ENV,
        timeout=600,
    )  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr
    record = json.loads(predicted.stdout)
    assert [e["label"] for e in record["entities"]] == ["PER", "LOC"]


# -- bad input --------------------------------------------------------------------------------


def test_unknown_quantization_is_refused(ner_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="quantize must be one of 'none', 'int8', got 'int4'"):
        export_onnx(ner_folder, tmp_path / "x", quantize="int4")
    assert not (tmp_path / "x").exists()
    from ner_bert.cli import main

    assert main(["export", "--model", str(ner_folder), "--output", "x", "--quantize", "int4"]) == 2


def test_a_folder_that_is_not_ner_bert_s_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"not a ner_bert model folder .* no ner_bert\.json"):
        export_onnx(tiny_model_dir, tmp_path / "out")
    with pytest.raises(ModelLoadError, match="model directory not found"):
        export_onnx(tmp_path / "missing", tmp_path / "out")


def test_a_model_without_a_token_classification_head_is_refused(
    tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    encoder = tmp_path / "encoder"
    shutil.copytree(tiny_encoder_dir, encoder)
    (encoder / "ner_bert.json").write_text(json.dumps({"format_version": 1}))
    with pytest.raises(ModelLoadError, match="no token-classification head"):
        export_onnx(encoder, tmp_path / "out")


def test_exporting_an_export_or_over_a_user_folder_is_refused(
    fp32_export: Path, ner_folder: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="already an ONNX export"):
        export_onnx(fp32_export, tmp_path / "again")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a ner_bert model directory"):
        export_onnx(ner_folder, mine)
    assert (mine / "notes.txt").read_text() == "keep me"


def test_missing_or_corrupt_onnx_files_are_named(fp32_export: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    shutil.copytree(fp32_export, missing)
    (missing / "model.onnx").unlink()
    with pytest.raises(ModelLoadError, match=r"model\.onnx is missing.*ner-bert export"):
        NERPredictor.from_pretrained(missing)

    corrupt = tmp_path / "corrupt"
    shutil.copytree(fp32_export, corrupt)
    data = bytearray((corrupt / "model.onnx").read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    (corrupt / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match=r"model\.onnx is not the file saved with"):
        NERPredictor.from_pretrained(corrupt)

    # Without the manifest, ONNX Runtime's own refusal is reported with the file's name.
    meta = json.loads((corrupt / "ner_bert.json").read_text())
    del meta["files"]
    (corrupt / "ner_bert.json").write_text(json.dumps(meta))
    (corrupt / "model.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(ModelLoadError, match=r"model\.onnx: ONNX Runtime cannot read it"):
        NERPredictor.from_pretrained(corrupt)

    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(fp32_export, no_tokenizer)
    for name in ("tokenizer.json", "vocab.txt"):
        (no_tokenizer / name).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match=r"tokenizer\.json is missing"):
        NERPredictor.from_pretrained(no_tokenizer)


def test_a_stray_onnx_file_without_ner_bert_json_is_named(
    tmp_path: Path, fp32_export: Path
) -> None:
    folder = tmp_path / "foreign"
    folder.mkdir()
    for name in ("model.onnx", "config.json", "tokenizer.json"):
        shutil.copy(fp32_export / name, folder / name)
    with pytest.raises(ModelLoadError, match=r"holds model\.onnx but no ner_bert\.json"):
        NERPredictor.from_pretrained(folder)


def test_options_an_export_cannot_honour(fp32_export: Path) -> None:
    with pytest.raises(ConfigError, match="runs at the precision it was exported with"):
        NERPredictor.from_pretrained(fp32_export, precision="bf16")
    with pytest.raises(ConfigError, match="--quantize int8"):
        NERPredictor.from_pretrained(fp32_export, config=PredictionConfig(quantize=True))


def test_without_the_onnx_extra_the_error_says_how_to_install_it(
    fp32_export: Path, ner_folder: Path, tmp_path: Path
) -> None:
    # A real interpreter where onnxruntime cannot be imported (as if it were not installed).
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "onnxruntime.py").write_text("raise ImportError('No module named onnxruntime')\n")
    code = (
        "from ner_bert import NERPredictor, export_onnx\n"
        "from ner_bert.errors import MissingDependencyError\n"
        "import sys\n"
        "for call in (lambda: NERPredictor.from_pretrained(sys.argv[1]),\n"
        "             lambda: export_onnx(sys.argv[2], sys.argv[3])):\n"
        "    try:\n"
        "        call()\n"
        "    except MissingDependencyError as exc:\n"
        "        print(exc)\n"
    )
    env = {**ENV, "PYTHONPATH": f"{blocker}{os.pathsep}{ENV.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(fp32_export), str(ner_folder), str(tmp_path / "o")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    hint = "onnxruntime, which is not installed: pip install 'ner-bert[onnx]'"
    assert all(hint in line for line in lines)
    assert issubclass(MissingDependencyError, ImportError)


def test_the_spacy_component_and_the_batch_predictor_take_an_export(
    fp32_export: Path, tmp_path: Path
) -> None:
    spacy = pytest.importorskip("spacy")
    from ner_bert.scale import BatchPredictor

    nlp = spacy.blank("en")
    nlp.add_pipe("ner_bert", config={"model": str(fp32_export)})
    doc = nlp("john smith lives in paris .")
    assert [(e.text, e.label_) for e in doc.ents] == [("john smith", "PER"), ("paris", "LOC")]
    nlp.to_disk(tmp_path / "pipeline")  # the component packs the ONNX folder with it
    again = spacy.load(tmp_path / "pipeline")
    assert [(e.text, e.label_) for e in again("john smith lives in paris .").ents] == [
        ("john smith", "PER"),
        ("paris", "LOC"),
    ]
    records = BatchPredictor(str(fp32_export), num_threads=1)(["mary visited berlin ."])
    assert [(r["label"], r["text"]) for r in records[0] or []] == [
        ("PER", "mary"),
        ("LOC", "berlin"),
    ]
