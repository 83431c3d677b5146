"""Tests of NERPredictor with real tiny models (a trained one for behaviour, random for errors)."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tiny_models

from ner_bert.config import PredictionConfig
from ner_bert.errors import ConfigError, LabelError, ModelLoadError
from ner_bert.labels import convert_to_iob2
from ner_bert.model.files import METADATA_FILE
from ner_bert.prediction import NERPredictor
from ner_bert.types import Entity, WordPrediction


@pytest.fixture(scope="module")
def predictor(trained_tiny_model_dir: Path) -> NERPredictor:
    # fp32: tiny matrices gain nothing from bf16; test_precisions_agree covers bf16.
    return NERPredictor.from_pretrained(
        trained_tiny_model_dir, config=PredictionConfig(precision="fp32")
    )


def triples(entities: list[Entity]) -> list[tuple[str, str]]:
    return [(e.label, e.text) for e in entities]


def check_offsets(text: str, entities: list[Entity]) -> None:
    previous_end = 0
    for e in entities:
        assert 0 <= previous_end <= e.start < e.end <= len(text)
        assert text[e.start : e.end] == e.text
        assert not e.text[0].isspace() and not e.text[-1].isspace()
        assert type(e.score) is float and 0.0 <= e.score <= 1.0
        previous_end = e.end


# --- behaviour -----------------------------------------------------------------------------


def test_finds_entities_with_exact_offsets(predictor: NERPredictor) -> None:
    text = "John Smith lives in Paris, said Reuters and the European Union."
    entities = predictor.predict_text(text)
    assert triples(entities) == [
        ("PER", "John Smith"),
        ("LOC", "Paris"),
        ("ORG", "Reuters"),
        ("ORG", "European Union"),
    ]
    check_offsets(text, entities)
    assert entities[0].start == 0 and entities[0].end == 10
    # JSON-serializable, frozen.
    assert json.loads(json.dumps([e.to_dict() for e in entities]))[1]["text"] == "Paris"
    with pytest.raises(AttributeError):
        entities[0].start = 3  # type: ignore[misc]


def test_predict_keeps_order_and_handles_empty_texts(predictor: NERPredictor) -> None:
    texts = ["", "Mary lives in Berlin.", "   \t\r\n ", "\u200b", "London", "the bank"]
    results = predictor.predict(texts, batch_size=2)
    assert [triples(r) for r in results] == [
        [],
        [("PER", "Mary"), ("LOC", "Berlin")],
        [],
        [],
        [("LOC", "London")],
        [],
    ]
    assert predictor.predict([]) == []
    assert predictor.predict_text("") == []


def test_no_forward_pass_runs_on_padding(trained_tiny_model_dir: Path) -> None:
    predictor = NERPredictor.from_pretrained(
        trained_tiny_model_dir, config=PredictionConfig(precision="fp32")
    )
    texts = [
        f"{'the bank said ' * (i % 5)}John Smith visited {'Paris' if i % 2 else 'Berlin'}"
        for i in range(30)
    ]
    runner = predictor._scorer.runner
    batches: list[np.ndarray] = []

    def recording(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        batches.append(attention_mask)
        return runner(input_ids, attention_mask)

    predictor._scorer.runner = recording
    together = predictor.predict(texts, batch_size=4)
    # Every batch holds rows of one length: nothing is padded.
    assert batches and all(mask.all() for mask in batches)
    assert len(batches) >= 5 and max(len(mask) for mask in batches) <= 4
    # So a text's entities do not depend on what else is in its batch (fp32: equal).
    alone = [predictor.predict_text(text) for text in texts]
    assert [triples(r) for r in together] == [triples(r) for r in alone]
    for a, b in zip(together, alone, strict=True):
        assert [e.score for e in a] == pytest.approx([e.score for e in b], abs=1e-5)


def test_long_document_is_windowed_not_truncated(predictor: NERPredictor) -> None:
    filler = "the bank said it was in the city . " * 1000
    parts = ["John Smith said", filler, "Mary visited Paris", filler, filler, "in London"]
    text = " ".join(parts)
    assert len(text) > 100_000
    assert predictor.max_length == 32  # thousands of windows
    entities = predictor.predict_text(text)
    check_offsets(text, entities)
    assert triples(entities) == [
        ("PER", "John Smith"),
        ("PER", "Mary"),
        ("LOC", "Paris"),
        ("LOC", "London"),
    ]
    middle = text.index("Mary")
    assert entities[1].start == middle and entities[-1].end == len(text)


def test_entities_across_window_edges(predictor: NERPredictor) -> None:
    # A name every 7 words puts names at every offset relative to the 30-token windows.
    sentence = "we said the john smith was at"
    text = " ".join([sentence] * 60)
    entities = predictor.predict_text(text)
    check_offsets(text, entities)
    assert triples(entities) == [("PER", "john smith")] * 60


def test_predict_stream_is_lazy_and_ordered(predictor: NERPredictor) -> None:
    def texts():
        for i in range(600):
            yield "Mary" if i % 2 else "the city"

    stream = predictor.predict_stream(texts(), batch_size=8, progress=True)  # 3 chunks
    first = [next(stream) for _ in range(3)]
    assert [triples(r) for r in first] == [[], [("PER", "Mary")], []]
    rest = list(stream)
    assert len(rest) == 597 and triples(rest[-1]) == [("PER", "Mary")]


def test_predict_words(predictor: NERPredictor) -> None:
    sentences = [
        ["John", "Smith", "lives", "in", "Paris", "."],
        [],
        ["Mary", "\u200b", "", "  ", "Smith"],  # words that tokenize to nothing
        ["New York", "reuters"],  # a word with a space inside is still one word
    ]
    out = predictor.predict_words(sentences)
    assert [[p.tag for p in s] for s in out] == [
        ["B-PER", "I-PER", "O", "O", "B-LOC", "O"],
        [],
        ["B-PER", "O", "O", "O", "O"],
        ["O", "B-ORG"],
    ]
    assert out[2][1] == WordPrediction("O", 1.0)
    assert all(type(p.score) is float for s in out for p in s)


def test_predict_words_long_sentence(predictor: NERPredictor) -> None:
    words = ["the", "bank", "said", "john", "smith", "was", "in", "paris"] * 40
    tags = [p.tag for p in predictor.predict_words([words])[0]]
    assert len(tags) == len(words)
    assert tags == ["O", "O", "O", "B-PER", "I-PER", "O", "O", "B-LOC"] * 40


@pytest.mark.parametrize("aggregation", ["first", "average", "max"])
@pytest.mark.parametrize("decoding", ["viterbi", "greedy"])
def test_options_give_valid_iob2(
    trained_tiny_model_dir: Path, tiny_model_dir: Path, aggregation: str, decoding: str
) -> None:
    config = PredictionConfig(aggregation=aggregation, decoding=decoding, precision="fp32")
    trained = NERPredictor.from_pretrained(trained_tiny_model_dir, config=config)
    assert triples(trained.predict_text("Máry Smith visited Paris")) == [
        ("PER", "Máry Smith"),
        ("LOC", "Paris"),
    ]
    if aggregation == "first":  # the first subword decides: "john" + "##s" "##m" ...
        assert triples(trained.predict_text("Jóhnsmith visited Londonderry")) == [
            ("PER", "Jóhnsmith"),
            ("LOC", "Londonderry"),
        ]
    # A random model makes messy predictions; decoding must still give valid IOB2.
    random_model = NERPredictor.from_pretrained(tiny_model_dir, config=config)
    words = [
        "john",
        "smithers",
        "visited",
        "the",
        "european",
        "union",
        "in",
        "parisian",
        "berlin",
    ] * 5
    tags = [p.tag for p in random_model.predict_words([words])[0]]
    assert convert_to_iob2(tags, "IOB2", strict=True) == tags


def test_precisions_agree(trained_tiny_model_dir: Path) -> None:
    text = "Mary Smith and John visited Paris and London for Reuters ."
    results = {}
    for precision in ("fp32", "bf16"):
        p = NERPredictor.from_pretrained(
            trained_tiny_model_dir, config=PredictionConfig(precision=precision)
        )
        assert p.precision == precision
        results[precision] = triples(p.predict_text(text))
    assert results["fp32"] == results["bf16"]
    with pytest.raises(ConfigError, match="fp16"):
        NERPredictor.from_pretrained(
            trained_tiny_model_dir, config=PredictionConfig(precision="fp16", device="cpu")
        )


def test_bf16_runs_on_a_bf16_copy_with_autocast_s_numbers(
    trained_tiny_model_dir: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    from ner_bert.model.forward import TorchRunner

    predictor = NERPredictor.from_pretrained(trained_tiny_model_dir, precision="bf16")
    runner = predictor._scorer.runner
    assert isinstance(runner, TorchRunner)
    assert runner.model.classifier.weight.dtype == torch.bfloat16
    # The same products as autocast over the fp32 weights, which it casts at every call.
    plain = TorchRunner(predictor._saveable, device=torch.device("cpu"), dtype=torch.bfloat16)
    ids = np.array([[2, 10, 11, 12, 3], [2, 13, 3, 0, 0]], dtype=np.int64)
    mask = (ids != 0).astype(np.int64)
    np.testing.assert_array_equal(runner(ids, mask), plain(ids, mask))
    # The model that is saved keeps its fp32 weights.
    predictor.save(tmp_path / "saved")
    weights = load_file(str(tmp_path / "saved" / "model.safetensors"))
    assert all(t.dtype == torch.float32 for t in weights.values())


def test_quantized_predictor_finds_entities(trained_tiny_model_dir: Path) -> None:
    p = NERPredictor.from_pretrained(
        trained_tiny_model_dir, config=PredictionConfig(quantize=True, precision="fp32")
    )
    assert triples(p.predict_text("Mary visited Paris")) == [("PER", "Mary"), ("LOC", "Paris")]


def test_thread_safe(trained_tiny_model_dir: Path) -> None:
    predictor = NERPredictor.from_pretrained(trained_tiny_model_dir)  # default precision
    texts = [
        f"{'the bank ' * (i % 13)}John Smith visited {'Paris' if i % 2 else 'Berlin'} {i}"
        for i in range(40)
    ]
    # Same calls, sequential then from 4 threads at once. (Scores may differ in the last
    # digits between batch compositions - padding changes bf16 rounding - so compare like
    # with like.)
    single = [predictor.predict_text(t) for t in texts[:12]]
    chunked = [predictor.predict(texts[i::4], batch_size=3) for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got_single = list(pool.map(predictor.predict_text, texts[:12]))
        got_chunked = list(
            pool.map(lambda i: predictor.predict(texts[i::4], batch_size=3), range(4))
        )
    assert got_single == single
    assert got_chunked == chunked
    assert all(triples(r)[0] == ("PER", "John Smith") for c in chunked for r in c)


def test_save_round_trip(predictor: NERPredictor, tmp_path: Path) -> None:
    text = "Mary Smith visited the European Union in Berlin."
    predictor.save(tmp_path / "model")
    metadata = json.loads((tmp_path / "model" / METADATA_FILE).read_text())
    assert metadata["labels"] == list(predictor.labels.labels)
    assert metadata["aggregation"] == "first"
    loaded = NERPredictor.from_pretrained(
        tmp_path / "model", config=PredictionConfig(precision="fp32")
    )
    assert loaded.model_path == tmp_path / "model"
    assert loaded.predict_text(text) == predictor.predict_text(text)

    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(tmp_path / "model")
    assert model.config.id2label[7] == "B-PER"


# --- bad input -----------------------------------------------------------------------------


def test_bad_text_inputs(predictor: NERPredictor) -> None:
    with pytest.raises(TypeError, match=r"texts\[2\] is NoneType"):
        predictor.predict(["a", "b", None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        predictor.predict(["a", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="predict_text"):
        predictor.predict("John")
    with pytest.raises(TypeError, match="takes a str"):
        predictor.predict_text(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"texts\[300\]"):
        list(predictor.predict_stream(["x"] * 300 + [b"bytes"]))  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="batch_size"):
        predictor.predict(["a"], batch_size=0)


def test_bad_word_inputs(predictor: NERPredictor) -> None:
    with pytest.raises(TypeError, match=r"sentences\[1\] is a str"):
        predictor.predict_words([["a"], "John lives here"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"sentences\[0\]\[1\] is NoneType"):
        predictor.predict_words([["a", None]])  # type: ignore[list-item]
    assert predictor.predict_words([]) == []


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_missing_model_parts(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="model directory not found"):
        NERPredictor.from_pretrained(tmp_path / "nothing")

    d = _copy(tiny_model_dir, tmp_path / "no_config")
    (d / "config.json").unlink()
    with pytest.raises(ModelLoadError, match=r"config\.json is missing"):
        NERPredictor.from_pretrained(d)

    d = _copy(tiny_model_dir, tmp_path / "no_weights")
    (d / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"model\.safetensors is missing"):
        NERPredictor.from_pretrained(d)

    d = _copy(tiny_model_dir, tmp_path / "pickle_only")
    (d / "model.safetensors").rename(d / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="safetensors only"):
        NERPredictor.from_pretrained(d)

    d = _copy(tiny_model_dir, tmp_path / "no_tokenizer")
    for name in ("tokenizer.json", "vocab.txt"):
        (d / name).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match=r"tokenizer\.json is missing"):
        NERPredictor.from_pretrained(d)


def test_corrupt_model_parts(tiny_model_dir: Path, tmp_path: Path) -> None:
    d = _copy(tiny_model_dir, tmp_path / "bad_config")
    (d / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match=r"corrupt config\.json"):
        NERPredictor.from_pretrained(d)

    d = _copy(tiny_model_dir, tmp_path / "bad_weights")
    weights = d / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelLoadError, match=str(d)):
        NERPredictor.from_pretrained(d)

    with pytest.raises(ModelLoadError, match="is a file"):
        NERPredictor.from_pretrained(d / "config.json")


def test_generic_label_names(tiny_model_dir: Path, tmp_path: Path) -> None:
    d = _copy(tiny_model_dir, tmp_path / "generic")
    config = json.loads((d / "config.json").read_text())
    config["id2label"] = {str(i): f"LABEL_{i}" for i in range(len(tiny_models.LABELS))}
    config["label2id"] = {f"LABEL_{i}": i for i in range(len(tiny_models.LABELS))}
    (d / "config.json").write_text(json.dumps(config))
    with pytest.raises(LabelError, match="labels="):
        NERPredictor.from_pretrained(d)
    p = NERPredictor.from_pretrained(d, labels=tiny_models.LABELS)
    assert p.labels.labels == tiny_models.LABELS
    assert isinstance(p.predict_text("john lives in paris"), list)
    with pytest.raises(ConfigError, match="9 outputs but 3 labels"):
        NERPredictor.from_pretrained(d, labels=["O", "B-PER", "I-PER"])


def test_checkpoint_without_head(tiny_encoder_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="no token-classification head"):
        NERPredictor.from_pretrained(tiny_encoder_dir)


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        PredictionConfig(batch_size=0)
    with pytest.raises(ConfigError, match="'viterbi', 'greedy'"):
        PredictionConfig(decoding="beam")
    with pytest.raises(ConfigError, match="precision"):
        PredictionConfig(precision="int4")
    with pytest.raises(ConfigError, match="Did you mean 'batch_size'"):
        PredictionConfig.from_dict({"batchsize": 3})
    config = PredictionConfig(precision="bf16", stride=10, max_length=32)
    assert PredictionConfig.from_dict(config.to_dict()) == config


def test_hub_name_offline_is_a_load_error() -> None:
    # conftest sets HF_HUB_OFFLINE=1: nothing is fetched, the error names the model.
    with pytest.raises(ModelLoadError, match="no-such-org/no-such-model"):
        NERPredictor.from_pretrained("no-such-org/no-such-model")


def test_byte_level_bpe_model(bpe_tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A RoBERTa-style model: <s>/</s> specials, position offset, byte-level offsets."""
    import torch
    from transformers import RobertaConfig, RobertaForTokenClassification

    torch.manual_seed(0)
    config = RobertaConfig(
        vocab_size=len(bpe_tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=24 + 2,
        pad_token_id=bpe_tokenizer.pad_token_id,
        id2label=dict(enumerate(tiny_models.LABELS)),
        label2id={label: i for i, label in enumerate(tiny_models.LABELS)},
    )
    RobertaForTokenClassification(config).save_pretrained(tmp_path)
    bpe_tokenizer.model_max_length = 512  # the position embeddings are the real limit
    bpe_tokenizer.save_pretrained(tmp_path)
    p = NERPredictor.from_pretrained(tmp_path, config=PredictionConfig(precision="fp32"))
    assert p.max_length == 24
    text = "  Jóhn lives in\tParis 😀, new york\r\n" * 20
    check_offsets(text, p.predict_text(text))
    words = ["john", "", "lives", "in", "paris"] * 10
    assert len(p.predict_words([words])[0]) == len(words)
