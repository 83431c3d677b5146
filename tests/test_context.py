"""Document context: segment planning, no leak across documents, a task only context solves,
saved settings, predict_documents offsets, evaluation and the spaCy component."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from ner_bert import ConfigError, NERPredictor, TaggedSentence
from ner_bert.config import PredictionConfig, TrainingConfig
from ner_bert.labels import IGNORE_INDEX
from ner_bert.model.files import METADATA_FILE
from ner_bert.subwords.context import Segment, check_context, plan_segments
from ner_bert.subwords.encoding import Encoded
from ner_bert.subwords.inputs import document_runs, make_windows, sentence_probabilities
from ner_bert.training.trainer import NERTrainer

# -- planning ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(30))
def test_segments_cover_every_subword_once_with_bounded_context(seed: int) -> None:
    rng = random.Random(seed)
    context, window = rng.randint(1, 12), rng.randint(40, 80)
    lengths = [rng.choice([0, 1, 3, 8, 15, 30, 50, 90, 200]) for _ in range(rng.randint(1, 25))]
    segments = plan_segments(lengths, context_size=context, window=window, stride=window // 2)
    total = sum(lengths)
    bounds = np.cumsum([0, *lengths])
    covered = np.zeros(total, dtype=int)
    for seg in segments:
        assert 0 <= seg.start <= seg.target_start < seg.target_end <= seg.end <= total
        assert len(seg) <= window
        covered[seg.target_start : seg.target_end] += 1
        if seg.left_context or seg.right_context:
            assert seg.left_context <= context and seg.right_context <= context
            # Targets hold whole sentences when there is context.
            assert seg.target_start in bounds and seg.target_end in bounds
            # Context is only cut short by the document's edges or a long sentence.
            if seg.target_end - seg.target_start <= window - 2 * context:
                assert seg.left_context == min(context, seg.target_start)
                assert seg.right_context == min(context, total - seg.target_end)
    assert (covered >= 1).all()
    # Only windows of sentences longer than the whole window overlap.
    for k, n in enumerate(lengths):
        if n <= window:
            assert (covered[bounds[k] : bounds[k + 1]] == 1).all()


def test_short_sentences_are_packed_and_check_context_explains() -> None:
    segments = plan_segments([5] * 10, context_size=4, window=28, stride=10)
    # 20 subwords of sentences per input (4 sentences), 4 subwords of context on each side.
    assert segments[0] == Segment(0, 24, 0, 20)
    assert segments[1] == Segment(16, 44, 20, 40)
    assert segments[2] == Segment(36, 50, 40, 50)
    with pytest.raises(ConfigError, match="context_size=64 needs windows of at least 144"):
        check_context(64, 126)
    assert document_runs([]) == []


def _encoded(ids: list[int]) -> Encoded:
    return Encoded(np.array(ids, dtype=np.int64), list(range(len(ids))), len(ids), [])


def test_windows_never_mix_documents_and_label_only_targets(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(tiny_encoder_dir, config=TrainingConfig(max_length=40, context_size=6))
    encoder = trainer._encoder
    rng = random.Random(0)
    # Token ids encode their document (ids 1000 + 100 * doc + k), so any mix is visible.
    documents = [d for d in range(6) for _ in range(rng.randint(1, 5))]
    encoded = [
        _encoded([1000 + 100 * d + rng.randint(0, 99)] * rng.randint(0, 12)) for d in documents
    ]
    tags = [["B-PER"] * len(e) for e in encoded]
    windows = make_windows(
        encoded,
        encoder,
        stride=10,
        tags=tags,
        label2id={"O": 0, "B-PER": 1},
        documents=documents,
        context_size=6,
    )
    n_prefix = len(encoder.prefix)
    seen: dict[int, set[int]] = {}
    for w in windows:
        content = w.input_ids[n_prefix : len(w.input_ids) - len(encoder.suffix)]
        assert len({(t - 1000) // 100 for t in content}) == 1
        assert {documents[p.sentence] for p in w.pieces} == {(content[0] - 1000) // 100}
        labels = w.labels[n_prefix : len(w.labels) - len(encoder.suffix)]
        # Context is never trained on; every target subword is.
        assert set(labels[: w.left_context]) <= {IGNORE_INDEX}
        assert set(labels[len(labels) - w.right_context :]) <= {IGNORE_INDEX}
        assert IGNORE_INDEX not in labels[w.left_context : len(labels) - w.right_context]
        for p in w.pieces:
            seen.setdefault(p.sentence, set()).update(range(p.start, p.end))
            assert w.input_ids[p.position : p.position + p.end - p.start] == tuple(
                encoded[p.sentence].ids[p.start : p.end].tolist()
            )
        bare = w.without_context(n_prefix, len(encoder.suffix))
        assert len(bare) == len(w) - w.left_context - w.right_context
        assert bare.pieces[0].position == n_prefix
    for index, item in enumerate(encoded):
        assert seen.get(index, set()) == set(range(len(item)))
    # Outputs go back to the right sentence and subword.
    outputs = [np.array(w.input_ids, dtype=float)[:, None] for w in windows]
    back = sentence_probabilities(windows, outputs, [len(e) for e in encoded])
    for item, probs in zip(encoded, back, strict=True):
        if len(item):
            assert probs is not None and probs[:, 0].tolist() == item.ids.tolist()
        else:
            assert probs is None


def test_context_config_is_validated(tiny_encoder_dir: Path) -> None:
    with pytest.raises(ConfigError, match="context_size must be an integer >= 0"):
        TrainingConfig(context_size=-1)
    with pytest.raises(ConfigError, match="context_dropout must be in"):
        TrainingConfig(context_dropout=1.0)
    with pytest.raises(ConfigError, match="needs windows of at least"):
        NERTrainer(tiny_encoder_dir, config=TrainingConfig(context_size=40, max_length=64))
    # Default length with context: 4 x context_size plus the special tokens.
    assert NERTrainer(tiny_encoder_dir, config=TrainingConfig(context_size=8)).max_length == 34


# -- a task only the previous sentence can solve -----------------------------------------------

# Single tokens of the tiny vocabulary, so the cue is always within the context.
NAMES = ["river", "club", "times", "bank", "football", "union", "states", "york"]
FILLERS = ["we", "and", "today", "with", "the", "said", "visited", "at", "in"]
CUES = {"president": "PER", "city": "LOC"}


def cue_documents(n: int, seed: int) -> list[TaggedSentence]:
    """Documents of a cue sentence ("next : president ." or "next : city .") and a sentence
    whose names are PER or LOC depending only on the document's cue."""
    rng = random.Random(seed)
    out: list[TaggedSentence] = []
    for doc in range(n):
        cue = rng.choice(sorted(CUES))
        out.append(TaggedSentence(["next", ":", cue, "."], ["O"] * 4, document=doc))
        for _ in range(1):
            words, tags = [], []
            for _ in range(rng.randint(3, 7)):
                if rng.random() < 0.35:
                    words.append(rng.choice(NAMES))
                    tags.append("B-" + CUES[cue])
                else:
                    words.append(rng.choice(FILLERS))
                    tags.append("O")
            out.append(TaggedSentence(words, tags, document=doc))
    return out


def _config(context: int, **extra: object) -> TrainingConfig:
    settings = {
        "learning_rate": 1e-3,
        "batch_size": 16,
        "epochs": 12,
        "progress_bar": False,
        "mixed_precision": "no",
        "context_size": context,
        **extra,
    }
    return TrainingConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def context_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random encoder a little wider than ``tiny_encoder_dir`` (hidden 64): the 32-wide one
    does not learn to look at another sentence within a few seconds of training."""
    import tiny_models

    return tiny_models.build_tiny_encoder(tmp_path_factory.mktemp("context_encoder"), hidden=64)


@pytest.fixture(scope="module")
def cue_models(context_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    train, dev = cue_documents(400, 0), cue_documents(80, 1)
    out = {}
    for context in (0, 12):
        trainer = NERTrainer(context_encoder_dir, config=_config(context))
        trainer.train(train, eval=dev)
        path = tmp_path_factory.mktemp(f"cue{context}") / "model"
        trainer.save(path)
        out[context] = (trainer, path)
    return out


def test_context_solves_what_sentences_alone_cannot(cue_models) -> None:
    test = cue_documents(80, 2)
    with_context = cue_models[12][0].evaluate(test)
    alone = cue_models[0][0].evaluate(test)
    assert with_context.f1 >= 0.95
    assert alone.f1 <= 0.75  # the cue is in another sentence: a coin toss per document
    # The saved model predicts with its context by default.
    path = cue_models[12][1]
    meta = json.loads((path / METADATA_FILE).read_text())
    assert meta["context_size"] == 12 and meta["training_config"]["context_size"] == 12
    predictor = NERPredictor.from_pretrained(path, config=PredictionConfig(precision="no"))
    assert predictor.context_size == 12
    docs = [
        ["next : president .", "we visited river and club today ."],
        ["next : city .", "we visited river and club today ."],
    ]
    found = predictor.predict_documents(docs)
    assert [e.label for e in found[0][1]] == ["PER", "PER"]
    assert [e.label for e in found[1][1]] == ["LOC", "LOC"]
    # Plain predict() still takes each text as its own document.
    assert len(predictor.predict(["we visited river today ."])[0]) == 1


def test_context_never_crosses_a_document_boundary(cue_models) -> None:
    predictor = NERPredictor.from_pretrained(
        cue_models[12][1], config=PredictionConfig(precision="no")
    )
    target = ["we", "visited", "river", "and", "club", "."]
    results = []
    for cue in ("president", "city"):
        # The cue is the *previous document*: it must not change the prediction.
        sentences = [["next", ":", cue, "."], target]
        results.append(predictor.predict_words(sentences, documents=[0, 1])[1])
    assert [p.tag for p in results[0]] == [p.tag for p in results[1]]
    assert [p.score for p in results[0]] == pytest.approx([p.score for p in results[1]], abs=1e-5)
    same_document = predictor.predict_words([["next", ":", "city", "."], target], documents=[0, 0])
    assert [p.tag for p in same_document[1]][2] == "B-LOC"
    with pytest.raises(ConfigError, match="one document id per sentence"):
        predictor.predict_words([target], documents=[0, 0])


def test_predict_documents_offsets_slice_each_sentence(cue_models) -> None:
    predictor = NERPredictor.from_pretrained(cue_models[12][1])
    docs = [
        ["next  :\tpresident .", "  wé  visited RIVER\u200b and\nclub 😀 today .  ", ""],
        ["next : city ."] + ["then river " * 40 + "."] * 3,  # longer than a target: own input
    ]
    found = predictor.predict_documents(docs)
    assert [len(d) for d in found] == [3, 4]
    n = 0
    for doc, result in zip(docs, found, strict=True):
        for sentence, entities in zip(doc, result, strict=True):
            for e in entities:
                assert e.text == sentence[e.start : e.end]
                n += 1
    assert [e.text.lower() for e in found[0][1]] == ["river", "club"]
    assert n > 100
    with pytest.raises(TypeError, match="documents\\[0\\]"):
        predictor.predict_documents(["one string"])  # type: ignore[list-item]


def test_context_dropout_trains_and_resumes_the_same(
    context_encoder_dir: Path, tmp_path: Path
) -> None:
    train = cue_documents(120, 3)
    config = _config(12, epochs=2, context_dropout=0.3, checkpoint_dir=str(tmp_path / "ck"))
    straight = NERTrainer(context_encoder_dir, config=config)
    straight.train(train)
    one = NERTrainer(
        context_encoder_dir,
        config=_config(12, epochs=1, context_dropout=0.3, checkpoint_dir=str(tmp_path / "ck2")),
    )
    one.train(train)
    resumed = NERTrainer(
        context_encoder_dir,
        config=_config(12, epochs=2, context_dropout=0.3, checkpoint_dir=str(tmp_path / "ck2")),
    )
    resumed.train(train, resume_from=tmp_path / "ck2", allow_changed_settings=True)
    words = [list(s.words) for s in train[:20]]
    docs = [s.document for s in train[:20]]
    assert resumed.predict_tags(words, documents=docs) == straight.predict_tags(
        words, documents=docs
    )


def test_cli_evaluate_and_predict_use_the_documents(cue_models, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from ner_bert import write_conll

    data = tmp_path / "cue.conll"
    write_conll(data, cue_documents(40, 5))  # -DOCSTART- between documents
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def run(*args: object) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "ner_bert", *map(str, args)]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)

    done = run("evaluate", "--model", cue_models[12][1], "--data", data, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["conlleval"]["micro"]["f1"] >= 0.95
    text = tmp_path / "doc.txt"
    text.write_text("next : city .\nwe visited river and club today .\n", encoding="utf-8")
    done = run("predict", "--model", cue_models[12][1], "--tokenized", "--whole-file", text)
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines() if line]
    assert [r[1] for r in rows if r[0] in ("river", "club")] == ["B-LOC", "B-LOC"]


def test_spacy_component_reads_sentences_with_their_document(cue_models) -> None:
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("ner_bert", config={"model": str(cue_models[12][1])})
    texts = [
        "next : president . we visited river and club today . with bank .",
        "next : city . we visited river and club today .",
    ]
    docs = list(nlp.pipe(texts))
    assert [len(list(d.sents)) for d in docs] == [3, 2]
    assert [(e.text, e.label_) for e in docs[0].ents] == [
        ("river", "PER"),
        ("club", "PER"),
        ("bank", "PER"),
    ]
    assert {e.label_ for e in docs[1].ents} == {"LOC"}
    # The same as NERPredictor on the sentences with the doc as their document.
    predictor = NERPredictor.from_pretrained(cue_models[12][1])
    sentences = [[t.text for t in s] for d in docs for s in d.sents]
    ids = [i for i, d in enumerate(docs) for _ in d.sents]
    tags = [p.tag for s in predictor.predict_words(sentences, documents=ids) for p in s]
    assert tags == [
        t.ent_iob_ + ("-" + t.ent_type_ if t.ent_type_ else "") for d in docs for t in d
    ]
    # Entities never cross a sentence boundary, even where the model would join them.
    for doc in docs:
        for ent in doc.ents:
            assert ent.sent.start <= ent.start and ent.end <= ent.sent.end


def test_many_documents_go_in_chunks_with_the_same_result(cue_models) -> None:
    predictor = NERPredictor.from_pretrained(
        cue_models[12][1], config=PredictionConfig(precision="no")
    )
    data = cue_documents(60, 7)
    words = [list(s.words) for s in data]
    ids = [s.document for s in data]
    # batch_size=1: chunks of about 32 sentences, cut only at document boundaries.
    small = predictor.predict_words(words, documents=ids, batch_size=1)
    large = predictor.predict_words(words, documents=ids, batch_size=64)
    assert [[p.tag for p in s] for s in small] == [[p.tag for p in s] for s in large]
    scores = [p.score for s in small for p in s]
    assert scores == pytest.approx([p.score for s in large for p in s], abs=1e-4)
