"""The ``ner_bert`` spaCy component on real spaCy pipelines and tiny offline models."""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

spacy = pytest.importorskip("spacy")

import tiny_models  # noqa: E402
from spacy import displacy  # noqa: E402
from spacy.language import Language  # noqa: E402
from spacy.tokens import Doc, DocBin, Span  # noqa: E402
from spacy.training import Example  # noqa: E402

from ner_bert.data.conll import read_conll  # noqa: E402
from ner_bert.errors import ConfigError, ModelLoadError, NerBertError  # noqa: E402
from ner_bert.labels import tags_to_spans  # noqa: E402

TEXTS = [
    "John Smith lives in Paris and works for the European Union .",
    "Mary visited London , Berlin and New York with the president of France .",
    "Reuters says the bank of Germany played against the football club of Berlin today .",
    "they were in the city on the river .",
    "the company of john smith and mary was in new york yesterday .",
    "a",
    "Germany France London Paris Berlin EU Reuters",
    "the minister of the United States said it was the bank",
]


def _component_nlp(model_dir: Path, **config) -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("ner_bert", config={"model": str(model_dir), **config})
    return nlp


def _ents(doc: Doc) -> list[tuple[int, int, str]]:
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents]


def _expected_spans(predictor, doc: Doc) -> list[tuple[int, int, str, float]]:
    """Token spans (with scores) from NERPredictor.predict_documents on the text of each line
    of the doc (the doc's own document), each entity on the tokens of its characters."""
    lines = _line_spans(doc)
    (found,) = predictor.predict_documents([[span.text for span in lines]])
    out = []
    for span, entities in zip(lines, found, strict=True):
        for e in entities:
            start = span.start_char + e.start
            tokens = doc.char_span(start, start + len(e.text), alignment_mode="strict")
            out.append((tokens.start, tokens.end, e.label, e.score))
    return out


def _line_spans(doc: Doc) -> list[Span]:
    """The doc's lines (cut at whitespace tokens holding a line break), without the
    whitespace tokens at their edges."""
    lines, words = [], []
    for token in doc:
        if not token.is_space:
            words.append(token.i)
        elif "\n" in token.text and words:
            lines.append(doc[words[0] : words[-1] + 1])
            words = []
    return [*lines, doc[words[0] : words[-1] + 1]] if words else lines


def _expected_token_spans(predictor, doc: Doc) -> list[tuple[int, int, str, float]]:
    """Token spans (with scores) from NERPredictor.predict_words on the doc's tokens."""
    ids = [t.i for t in doc if not t.is_space]
    if not ids:
        return []
    (preds,) = predictor.predict_words([[doc[i].text for i in ids]])
    out = []
    for m in tags_to_spans([p.tag for p in preds]):
        scores = [p.score for p in preds[m.start : m.end]]
        out.append((ids[m.start], ids[m.end - 1] + 1, m.label, sum(scores) / len(scores)))
    return out


@pytest.fixture(scope="module")
def gaz_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model that tags tiny_models.GAZETTEER words (PER/LOC/ORG/MISC) confidently."""
    return tiny_models.build_gazetteer_bert(tmp_path_factory.mktemp("gazetteer"))


@pytest.fixture(scope="module")
def nlp(gaz_model_dir: Path) -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("ner_bert", config={"model": str(gaz_model_dir)})
    return nlp


@pytest.fixture(scope="module")
def predictor(nlp: Language):
    return nlp.get_pipe("ner_bert").predictor


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The model loads (NERPredictor.from_pretrained calls) during the test, by location."""
    from ner_bert.prediction import NERPredictor

    calls: list[str] = []
    original = NERPredictor.from_pretrained.__func__

    def spy(cls, path_or_name, **kwargs):
        calls.append(str(path_or_name))
        return original(cls, path_or_name, **kwargs)

    monkeypatch.setattr(NERPredictor, "from_pretrained", classmethod(spy))
    return calls


# -- packaging -----------------------------------------------------------------------------


def test_import_ner_bert_does_not_import_spacy() -> None:
    code = "import sys, ner_bert; print('spacy' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"]


def test_factory_meta() -> None:
    spacy.blank("en")  # loads the spacy_factories entry points
    meta = Language.get_factory_meta("ner_bert")
    assert "doc.ents" in meta.assigns
    assert meta.default_score_weights["ents_f"] == 1.0
    assert meta.default_config["policy"] == "keep"


# -- predictions -----------------------------------------------------------------------------


def test_known_entities(nlp: Language) -> None:
    doc = nlp("John Smith lives in New York and works for Reuters .")
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("John Smith", "PER"),
        ("New York", "LOC"),
        ("Reuters", "ORG"),
    ]
    assert all(e._.ner_bert_score > 0.9 for e in doc.ents)
    assert [t.ent_iob_ for t in doc][:3] == ["B", "I", "O"]


@pytest.mark.parametrize("words", ["text", "tokens"])
@pytest.mark.parametrize("which", ["gazetteer", "random"])
def test_entities_equal_predictor_on_same_input(
    which: str, words: str, gaz_model_dir: Path, tiny_model_dir: Path
) -> None:
    # random: arbitrary tags everywhere, so many entities with low scores
    nlp = _component_nlp(tiny_model_dir if which == "random" else gaz_model_dir, words=words)
    predictor = nlp.get_pipe("ner_bert").predictor
    expect = _expected_spans if words == "text" else _expected_token_spans
    total = 0
    for doc in nlp.pipe(TEXTS, batch_size=3):
        expected = expect(predictor, doc)
        got = [(e.start, e.end, e.label_, e._.ner_bert_score) for e in doc.ents]
        assert len(got) == len(expected)
        for (s, e, label, score), (s2, e2, label2, score2) in zip(got, expected, strict=False):
            assert (s, e, label) == (s2, e2, label2)
            assert score == pytest.approx(score2, abs=1e-5)
            assert isinstance(score, float) and 0.0 <= score <= 1.0
        total += len(got)
    assert total > 5  # the random tiny model does predict entities


def test_text_words_keep_a_hyphenated_word_whole(gaz_model_dir: Path) -> None:
    # spaCy splits "Germany-based" into three tokens; treebank words (and CoNLL) keep one word.
    text = "The Germany-based bank met John Smith ."
    nlp = _component_nlp(gaz_model_dir)
    on_text = nlp(text)
    assert [t.text for t in on_text[1:4]] == ["Germany", "-", "based"]
    predictor = nlp.get_pipe("ner_bert").predictor
    assert [(e.text, e.label_) for e in on_text.ents] == [
        (e.text, e.label) for e in predictor.predict_text(text)
    ]
    assert [(e.text, e.label_) for e in on_text.ents] == [
        ("Germany-based", "LOC"),
        ("John Smith", "PER"),
    ]
    on_tokens = _component_nlp(gaz_model_dir, words="tokens")(text)
    assert [(e.text, e.label_) for e in on_tokens.ents] == [
        ("Germany", "LOC"),
        ("John Smith", "PER"),
    ]


def test_entity_inside_a_token_takes_the_whole_token(nlp: Language) -> None:
    doc = nlp(Doc(nlp.vocab, words=["Paris,", "London", "and", "Berlin"]))
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Paris,", "LOC"),
        ("London", "LOC"),
        ("Berlin", "LOC"),
    ]


def test_two_entities_in_one_token_keep_the_first_and_warn(
    nlp: Language, caplog: pytest.LogCaptureFixture
) -> None:
    doc = Doc(nlp.vocab, words=["Paris London", "and", "Berlin"])
    with caplog.at_level(logging.WARNING, logger="ner_bert"):
        doc = nlp(doc)
    assert [(e.text, e.label_) for e in doc.ents] == [("Paris London", "LOC"), ("Berlin", "LOC")]
    assert "'London' (LOC) shares a spaCy token" in caplog.text


def test_unknown_words_setting_is_a_config_error(gaz_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="words must be one of 'text', 'tokens', got 'spacy'"):
        _component_nlp(gaz_model_dir, words="spacy")


def test_call_equals_pipe_and_pipe_batches_docs(nlp: Language, predictor, monkeypatch) -> None:
    single = [_ents(nlp(text)) for text in TEXTS]
    calls: list[int] = []
    original = type(predictor).predict_documents

    def spy(self, documents, **kwargs):
        calls.append(len(documents))
        return original(self, documents, **kwargs)

    monkeypatch.setattr(type(predictor), "predict_documents", spy)
    piped = [_ents(doc) for doc in nlp.pipe(TEXTS, batch_size=4)]
    assert piped == single
    assert calls == [4, 4]  # one model call per group of 4 docs


def test_whitespace_tokens_are_not_words(nlp: Language, predictor) -> None:
    doc = nlp("John  Smith \n\n lives in   Paris .\n")
    assert any(t.is_space for t in doc)
    expected = _expected_spans(predictor, doc)
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [x[:3] for x in expected]
    for ent in doc.ents:
        assert not ent[0].is_space and not ent[-1].is_space
    assert all(t.ent_iob_ == "O" for t in doc if t.is_space and not t.ent_type_)


@pytest.mark.parametrize("text", ["", " ", "\n\n \t "])
def test_empty_and_whitespace_docs(nlp: Language, text: str) -> None:
    assert list(nlp(text).ents) == []
    docs = list(nlp.pipe([text, TEXTS[0], text], batch_size=8))
    assert [len(d.ents) for d in docs][::2] == [0, 0]
    assert _ents(docs[1]) == _ents(nlp(TEXTS[0]))


def test_doc_longer_than_model_window(nlp: Language, predictor) -> None:
    words = (TEXTS[0].split() + TEXTS[2].split()) * 12  # ~300 words, > 128 subword window
    doc = nlp(Doc(nlp.vocab, words=words))
    expected = _expected_spans(predictor, doc)
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [x[:3] for x in expected]
    assert max(e.end for e in doc.ents) > 200  # no truncation: entities at the end too


def test_score_survives_doc_serialization(nlp: Language) -> None:
    doc = nlp(TEXTS[0])
    assert doc.ents
    scores = [e._.ner_bert_score for e in doc.ents]
    again = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert [e._.ner_bert_score for e in again.ents] == scores
    docbin = DocBin(store_user_data=True, docs=[doc])
    (loaded,) = DocBin().from_bytes(docbin.to_bytes()).get_docs(nlp.vocab)
    assert [e._.ner_bert_score for e in loaded.ents] == scores


def test_displacy_renders_entities(nlp: Language) -> None:
    doc = nlp(TEXTS[1])
    html = displacy.render(doc, style="ent", jupyter=False)
    assert doc.ents
    for ent in doc.ents:
        assert ent.text.split()[0] in html
        assert ent.label_ in html


# -- existing entities and spans_key ----------------------------------------------------------


def _doc_with_existing(nlp: Language, text: str, ours: list[tuple[int, int, str]]) -> Doc:
    """A doc with two 'RULE' entities: one overlapping our first prediction, one free token."""
    doc = nlp.make_doc(text)
    taken = {i for s, e, _ in ours for i in range(s, e)}
    free = next(t.i for t in doc if t.i not in taken)
    doc.ents = sorted(
        [Span(doc, ours[0][0], ours[0][0] + 1, "RULE"), Span(doc, free, free + 1, "RULE")],
        key=lambda s: s.start,
    )
    return doc


@pytest.fixture(scope="module")
def ours(nlp: Language) -> list[tuple[int, int, str]]:
    result = [(e.start, e.end, e.label_) for e in nlp(TEXTS[0]).ents]
    assert len(result) >= 2
    return result


def test_policy_keep_keeps_existing_and_warns(gaz_model_dir, ours, caplog) -> None:
    nlp = _component_nlp(gaz_model_dir, spans_key="ner_bert")
    doc = _doc_with_existing(nlp, TEXTS[0], ours)
    existing = [(e.start, e.end, e.label_) for e in doc.ents]
    with caplog.at_level(logging.WARNING, logger="ner_bert.spacy.component"):
        nlp.get_pipe("ner_bert")(doc)
    got = [(e.start, e.end, e.label_) for e in doc.ents]
    assert set(existing) <= set(got)
    assert set(got) == set(existing) | set(ours[1:]) - {ours[0]}
    assert ours[0] not in got
    dropped = doc[ours[0][0] : ours[0][1]].text
    assert "1 prediction(s)" in caplog.text and repr(dropped) in caplog.text
    assert [(s.start, s.end, s.label_) for s in doc.spans["ner_bert"]] == ours  # none lost


def test_policy_keep_rerun_is_quiet_and_idempotent(nlp: Language, caplog) -> None:
    doc = nlp(TEXTS[0])
    before = _ents(doc)
    with caplog.at_level(logging.WARNING, logger="ner_bert.spacy.component"):
        nlp.get_pipe("ner_bert")(doc)  # its own entities are already there: nothing to warn
    assert _ents(doc) == before
    assert caplog.text == ""


def test_earlier_entity_ruler_entities_survive(gaz_model_dir, ours) -> None:
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "RULE", "pattern": "lives"}])
    nlp.add_pipe("ner_bert", config={"model": str(gaz_model_dir)})
    doc = nlp(TEXTS[0])
    assert ("lives", "RULE") in [(e.text, e.label_) for e in doc.ents]
    assert len(doc.ents) >= 2


def test_policy_overwrite(gaz_model_dir, ours) -> None:
    nlp = _component_nlp(gaz_model_dir, policy="overwrite")
    doc = nlp.get_pipe("ner_bert")(_doc_with_existing(nlp, TEXTS[0], ours))
    assert [(e.start, e.end, e.label_) for e in doc.ents] == ours


def test_policy_replace_overlapping(gaz_model_dir, ours) -> None:
    nlp = _component_nlp(gaz_model_dir, policy="replace_overlapping")
    doc = _doc_with_existing(nlp, TEXTS[0], ours)
    survivor = [(e.start, e.end, e.label_) for e in doc.ents if e.start != ours[0][0]]
    nlp.get_pipe("ner_bert")(doc)
    assert sorted([(e.start, e.end, e.label_) for e in doc.ents]) == sorted(ours + survivor)


def test_policy_spans_only(gaz_model_dir, ours) -> None:
    nlp = _component_nlp(gaz_model_dir, policy="spans_only", spans_key="preds")
    doc = _doc_with_existing(nlp, TEXTS[0], ours)
    before = _ents(doc)
    nlp.get_pipe("ner_bert")(doc)
    assert _ents(doc) == before
    group = doc.spans["preds"]
    assert [(s.start, s.end, s.label_) for s in group] == ours
    assert group.attrs["scores"] == [s._.ner_bert_score for s in group]
    assert all(isinstance(x, float) for x in group.attrs["scores"])


# -- scoring --------------------------------------------------------------------------------

CONLL = """\
-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O
"""


def _examples(nlp: Language, sentences, tag_lists) -> list[Example]:
    return [
        Example(Doc(nlp.vocab, words=list(s.words)), Doc(nlp.vocab, words=list(s.words), ents=t))
        for s, t in zip(sentences, tag_lists, strict=False)
    ]


def test_evaluate_scores_conll_examples(nlp: Language, tmp_path: Path) -> None:
    path = tmp_path / "mini.conll"
    path.write_text(CONLL)
    sentences = read_conll(path)
    scores = nlp.evaluate(_examples(nlp, sentences, [list(s.tags) for s in sentences]))
    # The gazetteer model finds EU (ORG) and nothing else of the 4 gold entities.
    assert scores["ents_p"] == pytest.approx(1.0)
    assert scores["ents_r"] == pytest.approx(0.25)
    assert scores["ents_f"] == pytest.approx(0.4)
    assert scores["ents_per_type"]["ORG"] == {"p": 1.0, "r": 1.0, "f": 1.0}
    assert scores["ents_per_type"]["PER"]["r"] == 0.0


def test_evaluate_against_own_predictions(nlp: Language, predictor, tmp_path: Path) -> None:
    path = tmp_path / "texts.conll"
    path.write_text("".join("".join(f"{w} O\n" for w in t.split()) + "\n" for t in TEXTS))
    sentences = read_conll(path)
    # Gold = the model's own predictions, except the first gold mention is removed: the
    # scores are then known exactly.
    gold_tags = [
        [p.tag for p in preds] for preds in predictor.predict_words([s.words for s in sentences])
    ]
    n_pred = sum(len(tags_to_spans(tags)) for tags in gold_tags)
    first = next(i for i, tags in enumerate(gold_tags) if tags_to_spans(tags))
    span = tags_to_spans(gold_tags[first])[0]
    gold_tags[first][span.start : span.end] = ["O"] * (span.end - span.start)
    scores = nlp.evaluate(_examples(nlp, sentences, gold_tags))
    assert scores["ents_r"] == pytest.approx(1.0)
    assert scores["ents_p"] == pytest.approx((n_pred - 1) / n_pred)
    assert 0.0 < scores["ents_f"] < 1.0
    assert set(scores["ents_per_type"]) == {"LOC", "MISC", "ORG", "PER"}


# -- serialization --------------------------------------------------------------------------


FRESH_PROCESS_SCRIPT = """
import json, sys, time
import spacy
assert "ner_bert" not in sys.modules  # the factory is found through the entry point
nlp = spacy.load(sys.argv[1])
comp = nlp.get_pipe("ner_bert")
texts = json.loads(sys.stdin.read())
single = [[[e.start_char, e.end_char, e.label_, e._.ner_bert_score] for e in d.ents]
          for d in nlp.pipe(texts)]
start = time.monotonic()
multi = [[[e.start_char, e.end_char, e.label_, e._.ner_bert_score] for e in d.ents]
         for d in nlp.pipe(texts * 3, n_process=2, batch_size=4)]
print(json.dumps({"model": comp.model, "spans_key": comp.spans_key,
                  "batch_size": comp.batch_size, "single": single, "multi": multi,
                  "multi_seconds": time.monotonic() - start}))
"""


def _run_isolated(args: list[str], stdin: str, timeout: float) -> str:
    """Run a Python script in a new process group; kill the whole group on timeout."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"the fresh process did not finish in {timeout} s (hang?)")
    assert proc.returncode == 0, err
    return out


@pytest.fixture(scope="module")
def saved_pipeline(gaz_model_dir, tmp_path_factory):
    """A pipeline saved to disk, its original model moved away, reloaded in a fresh process."""
    tmp_path = tmp_path_factory.mktemp("saved")
    model = tmp_path / "original-model"
    shutil.copytree(gaz_model_dir, model)
    nlp = _component_nlp(model, spans_key="sk", policy="keep", batch_size=4)
    expected = [
        [[e.start_char, e.end_char, e.label_, e._.ner_bert_score] for e in d.ents]
        for d in nlp.pipe(TEXTS)
    ]
    pipeline = tmp_path / "pipeline"
    nlp.to_disk(pipeline)
    # The original model is gone: the pipeline folder must be self-contained.
    shutil.move(model, tmp_path / "moved-away")
    out = _run_isolated([FRESH_PROCESS_SCRIPT, str(pipeline)], json.dumps(TEXTS), timeout=150)
    return {"original": str(model), "pipeline": pipeline, "expected": expected, **json.loads(out)}


def _assert_same_entities(got, expected) -> None:
    assert [[x[:3] for x in d] for d in got] == [[x[:3] for x in d] for d in expected]
    for d_got, d_exp in zip(got, expected, strict=True):
        for x, y in zip(d_got, d_exp, strict=True):
            assert x[3] == pytest.approx(y[3], abs=1e-6)


def test_to_disk_then_spacy_load_in_fresh_offline_process(saved_pipeline) -> None:
    pipeline = saved_pipeline["pipeline"]
    assert (pipeline / "ner_bert" / "model" / "model.safetensors").is_file()
    assert (pipeline / "ner_bert" / "model" / "ner_bert.json").is_file()
    assert not Path(saved_pipeline["original"]).exists()
    # The config still names the original model; the weights came from the pipeline folder.
    assert saved_pipeline["model"] == saved_pipeline["original"]
    assert (saved_pipeline["spans_key"], saved_pipeline["batch_size"]) == ("sk", 4)
    assert sum(map(len, saved_pipeline["expected"])) >= 5
    _assert_same_entities(saved_pipeline["single"], saved_pipeline["expected"])


def test_spacy_load_in_process(saved_pipeline) -> None:
    again = spacy.load(saved_pipeline["pipeline"])
    got = [
        [[e.start_char, e.end_char, e.label_, e._.ner_bert_score] for e in d.ents]
        for d in again.pipe(TEXTS)
    ]
    _assert_same_entities(got, saved_pipeline["expected"])


def test_multiprocess_pipe(saved_pipeline) -> None:
    # The fresh process ran the model single-process first (torch's thread pool is live),
    # then nlp.pipe(..., n_process=2): the forked workers must not hang.
    _assert_same_entities(saved_pipeline["multi"], saved_pipeline["expected"] * 3)
    assert saved_pipeline["multi_seconds"] < 60


def test_to_bytes_from_bytes_transfers_the_model(gaz_model_dir, tiny_model_dir) -> None:
    source = _component_nlp(gaz_model_dir)
    target = _component_nlp(tiny_model_dir)
    expected = [_ents(d) for d in source.pipe(TEXTS)]
    assert [_ents(d) for d in target.pipe(TEXTS)] != expected
    component = target.get_pipe("ner_bert")
    assert component.from_bytes(source.get_pipe("ner_bert").to_bytes()) is component
    assert [_ents(d) for d in target.pipe(TEXTS)] == expected
    whole = _component_nlp(tiny_model_dir).from_bytes(source.to_bytes())
    assert [_ents(d) for d in whole.pipe(TEXTS)] == expected


def test_from_disk_returns_self_and_reports_missing_model(nlp: Language, tmp_path) -> None:
    component = nlp.get_pipe("ner_bert")
    component.to_disk(tmp_path / "c")
    assert component.from_disk(tmp_path / "c") is component
    with pytest.raises(ModelLoadError, match="does not exist"):
        component.from_disk(tmp_path / "nowhere")


# -- lazy loading ----------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["call", "pipe"])
def test_add_pipe_does_not_load_the_first_doc_does(
    first: str, gaz_model_dir: Path, nlp: Language, loads: list[str]
) -> None:
    expected = [_ents(d) for d in nlp.pipe(TEXTS)]
    loads.clear()
    lazy = _component_nlp(gaz_model_dir)
    component = lazy.get_pipe("ner_bert")
    assert component._predictor is None and loads == []
    assert component.labels == ()  # reading the labels does not load the model
    if first == "call":
        got = [_ents(lazy(text)) for text in TEXTS]
    else:
        docs = lazy.pipe(TEXTS, batch_size=3)
        assert loads == []  # a generator: nothing runs before the first doc is asked for
        got = [_ents(d) for d in docs]
    assert got == expected
    assert loads == [str(gaz_model_dir)]  # once, at the first doc
    assert set(component.labels) == set(tiny_models.ENTITY_TYPES)


def test_initialize_loads_the_model_once(gaz_model_dir: Path, loads: list[str]) -> None:
    lazy = _component_nlp(gaz_model_dir)
    assert loads == []
    lazy.initialize()
    component = lazy.get_pipe("ner_bert")
    assert component._predictor is not None and loads == [str(gaz_model_dir)]
    assert set(component.labels) == set(tiny_models.ENTITY_TYPES)
    assert lazy(TEXTS[0]).ents
    lazy.initialize()  # a loaded model is kept
    assert len(loads) == 1


def test_component_initialize_loads_without_resetting_the_pipeline(
    gaz_model_dir: Path, loads: list[str]
) -> None:
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "RULE", "pattern": "lives"}])
    component = nlp.add_pipe("ner_bert", config={"model": str(gaz_model_dir)})
    component.initialize()  # nlp.initialize() would clear the ruler's patterns
    assert loads == [str(gaz_model_dir)] and len(ruler.patterns) == 1
    assert ("lives", "RULE") in [(e.text, e.label_) for e in nlp(TEXTS[0]).ents]


@pytest.mark.parametrize("kind", ["missing folder", "file", "hub name"])
def test_wrong_model_fails_at_initialize_naming_component_and_model(
    kind: str, tmp_path: Path
) -> None:
    (tmp_path / "weights.bin").write_bytes(b"not a model")
    model = {
        "missing folder": str(tmp_path / "gone"),
        "file": str(tmp_path / "weights.bin"),
        "hub name": "no-such-org/no-such-model",  # offline: cannot load
    }[kind]
    nlp = spacy.blank("en")
    nlp.add_pipe("ner_bert", name="my_ner", config={"model": model})
    assert nlp.get_pipe("my_ner")._predictor is None
    with pytest.raises(ModelLoadError) as info:
        nlp.initialize()
    assert "ner_bert component 'my_ner'" in str(info.value)
    assert repr(model) in str(info.value)
    with pytest.raises(ModelLoadError, match="my_ner"):  # without initialize: at the first doc
        nlp("John Smith lives in Paris .")


def test_spacy_load_takes_the_saved_model_and_initialize_keeps_it(
    saved_pipeline, loads: list[str]
) -> None:
    assert not Path(saved_pipeline["original"]).exists()
    again = spacy.load(saved_pipeline["pipeline"])
    component = again.get_pipe("ner_bert")
    assert component._predictor is not None  # from_disk loaded the copy in the pipeline
    assert len(loads) == 1 and Path(loads[0]).parts[-2:] == ("ner_bert", "model")
    again.initialize()  # does not reach for the original model, which is gone
    assert len(loads) == 1
    got = [
        [[e.start_char, e.end_char, e.label_, e._.ner_bert_score] for e in d.ents]
        for d in again.pipe(TEXTS)
    ]
    _assert_same_entities(got, saved_pipeline["expected"])


def test_to_disk_before_any_doc_saves_the_model(
    gaz_model_dir: Path, nlp: Language, tmp_path: Path
) -> None:
    lazy = _component_nlp(gaz_model_dir)
    lazy.to_disk(tmp_path / "pipeline")
    assert (tmp_path / "pipeline" / "ner_bert" / "model" / "model.safetensors").is_file()
    again = spacy.load(tmp_path / "pipeline")
    assert [_ents(d) for d in again.pipe(TEXTS)] == [_ents(d) for d in nlp.pipe(TEXTS)]


def test_pickling_before_any_doc_stays_lazy(
    gaz_model_dir: Path, nlp: Language, loads: list[str]
) -> None:
    expected = [_ents(d) for d in nlp.pipe(TEXTS)]
    loads.clear()
    again = pickle.loads(pickle.dumps(_component_nlp(gaz_model_dir)))
    assert again.get_pipe("ner_bert")._predictor is None and loads == []
    assert [_ents(d) for d in again.pipe(TEXTS)] == expected
    assert loads == [str(gaz_model_dir)]


def test_concurrent_first_docs_load_the_model_once(gaz_model_dir: Path, loads: list[str]) -> None:
    lazy = _component_nlp(gaz_model_dir)
    with ThreadPoolExecutor(max_workers=3) as pool:
        docs = list(pool.map(lazy, TEXTS[:3]))
    assert len(docs) == 3
    assert loads == [str(gaz_model_dir)]


# -- bad input --------------------------------------------------------------------------------


def test_missing_model_shows_the_line_to_write() -> None:
    nlp = spacy.blank("en")
    for config in ({}, {"model": ""}, {"model": "   "}):
        with pytest.raises(ConfigError, match=r'add_pipe\("ner_bert", config=\{"model"'):
            nlp.add_pipe("ner_bert", config=config)
    assert "ner_bert" not in nlp.pipe_names


def test_nonexistent_model_path_fails_at_initialize(tmp_path, loads) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("ner_bert", config={"model": str(tmp_path / "nowhere")})
    assert nlp.get_pipe("ner_bert")._predictor is None and loads == []
    with pytest.raises(ModelLoadError, match="nowhere") as info:
        nlp.initialize()
    assert "ner_bert component 'ner_bert'" in str(info.value)


def test_unknown_policy_lists_choices(tiny_model_dir) -> None:
    nlp = spacy.blank("en")
    with pytest.raises(ConfigError) as info:
        nlp.add_pipe("ner_bert", config={"model": str(tiny_model_dir), "policy": "merge"})
    for choice in ("keep", "overwrite", "replace_overlapping", "spans_only"):
        assert repr(choice) in str(info.value)
    with pytest.raises(ConfigError, match="spans_key"):
        nlp.add_pipe("ner_bert", config={"model": str(tiny_model_dir), "policy": "spans_only"})
    with pytest.raises(ConfigError, match="aggregation"):
        nlp.add_pipe("ner_bert", config={"model": str(tiny_model_dir), "aggregation": "mean"})
    with pytest.raises(ConfigError, match="batch_size"):
        nlp.add_pipe("ner_bert", config={"model": str(tiny_model_dir), "batch_size": 0})


def test_model_with_non_iob2_labels(tmp_path) -> None:
    model = tiny_models.build_tiny_bert(tmp_path / "io", labels=("O", "LOC", "PER"))
    nlp = spacy.blank("en")
    nlp.add_pipe("ner_bert", config={"model": str(model)})
    with pytest.raises(NerBertError) as info:
        nlp.initialize()
    assert isinstance(info.value, ValueError)
    assert "IOB2" in str(info.value)


def test_generic_label_names_can_be_renamed(tmp_path) -> None:
    generic = tuple(f"LABEL_{i}" for i in range(len(tiny_models.LABELS)))
    model = tiny_models.build_tiny_bert(tmp_path / "generic", labels=generic)
    nlp = spacy.blank("en")
    nlp.add_pipe("ner_bert", config={"model": str(model)})
    with pytest.raises(NerBertError, match="labels"):
        nlp("John Smith lives in Paris .")
    nlp = spacy.blank("en")
    nlp.add_pipe("ner_bert", config={"model": str(model), "labels": list(tiny_models.LABELS)})
    assert nlp.get_pipe("ner_bert").labels == ()  # not loaded yet
    nlp.initialize()
    assert set(nlp.get_pipe("ner_bert").labels) == set(tiny_models.ENTITY_TYPES)
    assert {e.label_ for d in nlp.pipe(TEXTS) for e in d.ents} <= set(tiny_models.ENTITY_TYPES)


def test_pickle_round_trip(nlp: Language) -> None:
    again = pickle.loads(pickle.dumps(nlp))
    assert [_ents(d) for d in again.pipe(TEXTS)] == [_ents(d) for d in nlp.pipe(TEXTS)]
    assert again.get_pipe("ner_bert").policy.value == "keep"


def test_relative_model_path_that_does_not_exist(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    nlp = spacy.blank("en")
    nlp.add_pipe("ner_bert", config={"model": "models/my-ner"})
    with pytest.raises(ModelLoadError, match="is not a local folder") as info:
        nlp("John Smith lives in Paris .")
    assert str(tmp_path / "models/my-ner") in str(info.value)
