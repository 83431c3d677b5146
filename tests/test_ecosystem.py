"""At home in the Hugging Face ecosystem: model cards, hub options, reused heads, pipeline calls."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import tiny_models
from test_training import fast_config, synthetic

from ner_bert import LabelSet, ModelLoadError, NERPredictor, NERTrainer

# The label order of transformers' run_ner.py checkpoints (dslim/bert-base-NER and the like),
# not ner_bert's (O, then types sorted).
RUN_NER_LABELS = ("O", "B-MISC", "I-MISC", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
WORDS = [["John", "Smith", "lives", "in", "Paris"], ["the", "IBM", "office", "in", "Berlin"]]


@pytest.fixture(scope="module")
def trained_folder(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("card") / "acme-ner"
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=1))
    trainer.train(synthetic(60, 0), eval=synthetic(20, 1))
    trainer.save(folder)
    return folder


# --- model card ---------------------------------------------------------------------------------


def test_a_saved_folder_has_a_model_card_the_hub_reads(trained_folder: Path) -> None:
    from huggingface_hub import ModelCard

    from ner_bert.model.files import read_metadata

    metadata = read_metadata(trained_folder)
    assert metadata is not None
    report = metadata["metrics"]["eval_report"]
    card = ModelCard.load(trained_folder / "README.md")
    assert card.data.library_name == "transformers"
    assert card.data.pipeline_tag == "token-classification"
    assert "ner_bert" in card.data.tags
    assert card.data.model_name == "acme-ner"
    results = {r.metric_type: r for r in card.data.eval_results}
    assert results["f1"].metric_value == round(report["conlleval"]["micro"]["f1"], 4)
    assert results["f1"].task_type == "token-classification"
    assert set(results) == {"f1", "precision", "recall"}
    stats = metadata["training_data"]["train"]
    assert stats["sentences"] == 60 and sum(stats["entities"].values()) > 0
    text = card.text
    assert f"Trained on {stats['sentences']:,} sentences ({stats['words']:,} words" in text
    for kind, count in stats["entities"].items():
        assert f"| {kind} | {count:,} |" in text
    assert 'NERPredictor.from_pretrained("acme-ner")' in text
    assert 'pipeline("token-classification", model="acme-ner"' in text
    assert "| `learning_rate` |" in text and "## Framework versions" in text
    assert "## Limitations" in text


def test_an_edited_card_does_not_break_loading(trained_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "edited"
    shutil.copytree(trained_folder, folder)
    with (folder / "README.md").open("a") as card:
        card.write("\nOur own notes.\n")
    assert NERPredictor.from_pretrained(folder).predict_words(WORDS)  # not a "mixed save"


def test_a_model_without_evaluation_says_so(tiny_model_dir: Path, tmp_path: Path) -> None:
    from huggingface_hub import ModelCard

    NERPredictor.from_pretrained(tiny_model_dir).save(tmp_path / "plain")
    card = ModelCard.load(tmp_path / "plain" / "README.md")
    assert not card.data.eval_results
    assert "No evaluation data was given to training." in card.text
    assert "| `B-PER` |" in card.text


# --- a head trained for the same labels in another order is kept ------------------------------


def test_a_head_with_the_same_labels_in_another_order_is_reused(tmp_path, caplog) -> None:
    from ner_bert.model.loading import load_model

    raw = tiny_models.build_tiny_bert(tmp_path / "run_ner", labels=RUN_NER_LABELS, seed=3)
    before = NERPredictor.from_pretrained(raw).predict_words(WORDS)
    ours = LabelSet.from_tags(RUN_NER_LABELS)
    assert ours.labels != RUN_NER_LABELS
    with caplog.at_level(logging.WARNING, logger="ner_bert"):
        loaded = load_model(raw, labels=ours, new_head=True)
    assert "same labels in another order" in caplog.text
    assert "re-initializing" not in caplog.text
    after = NERPredictor(loaded.model.eval(), loaded.tokenizer, ours).predict_words(WORDS)
    assert [[p.tag for p in s] for s in after] == [[p.tag for p in s] for s in before]
    for old, new in zip(before, after, strict=True):
        assert [p.score for p in new] == pytest.approx([p.score for p in old], abs=1e-6)


def test_a_head_for_other_labels_is_new(tiny_model_dir, caplog) -> None:
    from ner_bert.model.loading import load_model

    other = LabelSet.from_entity_types(["DRUG", "DOSE", "ROUTE", "FORM"])  # same size, 9 labels
    with caplog.at_level(logging.WARNING, logger="ner_bert"):
        load_model(tiny_model_dir, labels=other, new_head=True)
    assert "re-initializing the head" in caplog.text


def test_a_new_head_is_info_not_a_load_report(tiny_encoder_dir, caplog, capfd) -> None:
    """Fine-tuning from an encoder: transformers' LOAD REPORT table (a warning listing the new
    head as MISSING) stays off; ner_bert says it in one info line."""
    from ner_bert.model.loading import load_model

    with caplog.at_level(logging.INFO, logger="ner_bert"):
        load_model(tiny_encoder_dir, labels=LabelSet.from_entity_types(["PER"]), new_head=True)
    assert "LOAD REPORT" not in capfd.readouterr().err
    assert [r.levelname for r in caplog.records if "new head" in r.message] == ["INFO"]
    assert "classifier.weight" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_encoder_weights_missing_from_the_checkpoint_are_a_warning(
    tiny_encoder_dir, tmp_path, caplog
) -> None:
    from safetensors.torch import load_file, save_file

    from ner_bert.model.loading import load_model

    folder = tmp_path / "encoder"
    shutil.copytree(tiny_encoder_dir, folder)
    weights = load_file(folder / "model.safetensors")
    dropped = next(key for key in weights if "layer.0.attention.self.query.weight" in key)
    del weights[dropped]
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with caplog.at_level(logging.INFO, logger="ner_bert"):
        load_model(folder, labels=LabelSet.from_entity_types(["PER"]), new_head=True)
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "1 encoder weights are not in the checkpoint" in warnings[0]
    assert "query.weight" in warnings[0]


# --- the predictor is called like a pipeline ------------------------------------------------------


def test_the_predictor_is_callable_like_a_pipeline(tiny_model_dir) -> None:
    predictor = NERPredictor.from_pretrained(tiny_model_dir)
    texts = ["John Smith lives in Paris.", "IBM hired Mary."]
    assert predictor(texts[0]) == predictor.predict_text(texts[0])
    assert predictor(texts) == predictor.predict(texts)
    assert predictor(texts, batch_size=1) == predictor.predict(texts)


# --- hub options reach transformers and huggingface_hub -------------------------------------------


def _hub_cache(root: Path, repo: str, revisions: dict[str, Path]) -> Path:
    """A Hugging Face hub cache holding ``repo`` at the given refs (no network involved)."""
    cache = root / "hub-cache"
    repo_dir = cache / f"models--{repo.replace('/', '--')}"
    for number, (ref, folder) in enumerate(revisions.items()):
        commit = f"{number + 1:040x}"
        shutil.copytree(folder, repo_dir / "snapshots" / commit)
        (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
        (repo_dir / "refs" / ref).write_text(commit)
    return cache


def test_hub_revision_cache_dir_and_local_files_only_are_passed_through(tmp_path) -> None:
    main = tiny_models.build_tiny_bert(tmp_path / "main", seed=0)
    NERPredictor.from_pretrained(main).save(tmp_path / "main-ner")
    other = tiny_models.build_tiny_bert(tmp_path / "v2", labels=RUN_NER_LABELS, seed=1)
    NERPredictor.from_pretrained(other).save(tmp_path / "v2-ner")
    metadata = tmp_path / "v2-ner" / "ner_bert.json"
    text = metadata.read_text().replace('"aggregation": "first"', '"aggregation": "max"')
    metadata.write_text(text)
    refs = {"main": tmp_path / "main-ner", "v2": tmp_path / "v2-ner"}
    cache = _hub_cache(tmp_path, "acme/tiny-ner", refs)
    options = {"cache_dir": cache, "local_files_only": True}

    latest = NERPredictor.from_pretrained("acme/tiny-ner", **options)
    assert latest.labels.labels == tiny_models.LABELS
    assert latest.config.aggregation == "first"
    tagged = NERPredictor.from_pretrained("acme/tiny-ner", revision="v2", **options)
    assert tagged.labels.labels == RUN_NER_LABELS
    assert tagged.config.aggregation == "max"  # its ner_bert.json came from the hub cache too
    with pytest.raises(ModelLoadError, match="acme/other"):
        NERPredictor.from_pretrained("acme/other", **options)
    with pytest.raises(ModelLoadError, match="acme/tiny-ner"):
        NERPredictor.from_pretrained("acme/tiny-ner", revision="v3", **options)


# --- datasets: splits, label order, documents -------------------------------------------------


def _dataset(sentences, names, *, documents=None):
    from datasets import ClassLabel, Dataset, Features, List, Value

    columns = {
        "tokens": [list(s.words) for s in sentences],
        "ner_tags": [[names.index(t) for t in s.tags] for s in sentences],
    }
    features = {"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=list(names)))}
    if documents is not None:
        columns["article"] = documents
        features["article"] = Value("string")
    return Dataset.from_dict(columns, features=Features(features))


def test_a_dataset_without_documents_has_one_document_per_row_or_a_named_column() -> None:
    from ner_bert import from_hf_dataset

    sentences = synthetic(4, 0)
    names = list(LabelSet.from_tags(t for s in sentences for t in s.tags).labels)
    assert [s.document for s in from_hf_dataset(_dataset(sentences, names))] == [0, 1, 2, 3]
    grouped = _dataset(sentences, names, documents=["x", "x", "y", "y"])
    read = from_hf_dataset(grouped, document_column="article")
    assert [s.document for s in read] == [0, 0, 1, 1]
    from ner_bert import DataFormatError

    with pytest.raises(DataFormatError, match="no column 'doc'"):
        from_hf_dataset(grouped, document_column="doc")


def test_training_on_a_dataset_dict_keeps_its_label_order(tiny_encoder_dir) -> None:
    from datasets import DatasetDict

    from ner_bert import hf_dataset_labels

    names = list(RUN_NER_LABELS)
    splits = DatasetDict(
        {
            "train": _dataset(synthetic(40, 0), names),
            "validation": _dataset(synthetic(10, 1), names),
        }
    )
    assert hf_dataset_labels(splits["train"]).labels == RUN_NER_LABELS
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=1))
    result = trainer.train(splits)
    assert result.labels == RUN_NER_LABELS  # the dataset's ids are the model's
    assert result.best_eval is not None and result.best_eval.n_sentences == 10
    assert result.data["train"]["sentences"] == 40


def test_document_context_without_documents_is_refused_before_training(tiny_encoder_dir):
    from ner_bert import ConfigError

    sentences = synthetic(20, 0)
    names = list(LabelSet.from_tags(t for s in sentences for t in s.tags).labels)
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(context_size=8))
    with pytest.raises(ConfigError, match="every one of the 20 training sentences is its own"):
        trainer.train(_dataset(sentences, names))
    assert trainer.model is None


# --- spaCy corpora (.spacy) and spaCy training ----------------------------------------------------


def test_docbin_round_trip_keeps_words_tags_and_documents(tmp_path) -> None:
    from ner_bert import TaggedSentence
    from ner_bert.spacy.docbin import read_docbin, write_docbin

    sentences = [
        TaggedSentence(words=s.words, tags=s.tags, document=i // 3)
        for i, s in enumerate(synthetic(7, 0))
    ]
    path = tmp_path / "train.spacy"
    write_docbin(sentences, path)
    read = read_docbin(path)
    assert [(s.words, s.tags, s.document) for s in read] == [
        (s.words, s.tags, s.document) for s in sentences
    ]
    assert read[4].source == f"{path}[doc 2, sentence 2]"


def test_a_spacy_corpus_with_whitespace_tokens_reads_as_words(tmp_path) -> None:
    import spacy
    from spacy.tokens import DocBin

    from ner_bert.spacy.docbin import read_docbin

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    doc = nlp("John Smith  lives in Paris.\nMary left.")
    doc.ents = [doc.char_span(*span) for span in ((0, 10, "PER"), (21, 26, "LOC"), (28, 32, "PER"))]
    path = tmp_path / "dev.spacy"
    DocBin(docs=[doc]).to_disk(path)
    read = read_docbin(path)
    assert [s.words for s in read] == [
        ("John", "Smith", "lives", "in", "Paris", "."),
        ("Mary", "left", "."),
    ]
    assert [s.tags for s in read] == [
        ("B-PER", "I-PER", "O", "O", "B-LOC", "O"),
        ("B-PER", "O", "O"),
    ]


def test_bad_spacy_corpora_are_named(tmp_path) -> None:
    from ner_bert import DataFormatError, DataNotFoundError
    from ner_bert.spacy.docbin import read_docbin

    with pytest.raises(DataNotFoundError, match=r"missing\.spacy: no such file"):
        read_docbin(tmp_path / "missing.spacy")
    bad = tmp_path / "bad.spacy"
    bad.write_bytes(b"\x00\x01 not msgpack")
    with pytest.raises(DataFormatError, match=r"bad\.spacy: not a spaCy DocBin"):
        read_docbin(bad)


def test_the_cli_evaluates_a_spacy_corpus(tiny_model_dir, tmp_path, capsys) -> None:
    import json

    from ner_bert.cli.main import main
    from ner_bert.spacy.docbin import write_docbin

    path = tmp_path / "test.spacy"
    write_docbin(synthetic(12, 3), path)
    assert main(["evaluate", "--model", str(tiny_model_dir), "--data", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_sentences"] == 12


def test_spacy_training_is_refused_with_the_working_path(tiny_model_dir) -> None:
    import spacy
    from spacy.training import Example

    from ner_bert import ConfigError

    nlp = spacy.blank("en")
    nlp.add_pipe("ner_bert", config={"model": str(tiny_model_dir)})
    nlp.initialize()
    doc = nlp.make_doc("John lives here")
    example = Example.from_dict(doc, {"entities": [(0, 4, "PER")]})
    with pytest.raises(ConfigError, match=r"ner-bert train --model <encoder> --train train\.spacy"):
        nlp.update([example])
    assert nlp.update([example], exclude=["ner_bert"]) == {}  # frozen: kept as it is


# --- annotation tools: Label Studio and doccano ---------------------------------------------------


def _label_studio_task(text, spans, *, cancelled=False):
    result = [
        {"from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": s, "end": e, "text": text[s:e], "labels": [label]}}
        for s, e, label in spans
    ]  # fmt: skip
    result.append({"type": "choices", "value": {"choices": ["news"]}})  # not a span: ignored
    return {"data": {"text": text}, "annotations": [{"result": result, "was_cancelled": cancelled}]}


def test_label_studio_export_reads_and_round_trips(tmp_path, caplog) -> None:
    import json

    from ner_bert import read_label_studio, write_label_studio

    tasks = [
        _label_studio_task("John Smith lives in Paris.", [(0, 10, "PER"), (20, 25, "LOC")]),
        {"data": {"text": "Not labelled yet."}, "annotations": []},
        _label_studio_task("Mary left.", [(0, 4, "PER")], cancelled=True),
        _label_studio_task("IBM hired Ann.", [(0, 3, "ORG"), (10, 13, "PER")]),
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    with caplog.at_level("WARNING", logger="ner_bert"):
        sentences = read_label_studio(path)
    assert "skipped 2 task(s) without an annotation" in caplog.text
    assert [(s.words, s.tags, s.source) for s in sentences] == [
        (("John", "Smith", "lives", "in", "Paris", "."),
         ("B-PER", "I-PER", "O", "O", "B-LOC", "O"), f"{path}[task 1]"),
        (("IBM", "hired", "Ann", "."), ("B-ORG", "O", "B-PER", "O"), f"{path}[task 4]"),
    ]  # fmt: skip
    again = tmp_path / "again.json"
    write_label_studio(again, sentences)
    assert [(s.words, s.tags) for s in read_label_studio(again)] == [
        (s.words, s.tags) for s in sentences
    ]
    minimal = tmp_path / "min.json"  # Label Studio's JSON_MIN export
    minimal.write_text(json.dumps([{"text": "Ann left", "label": [
        {"start": 0, "end": 3, "text": "Ann", "labels": ["PER"]}]}]))  # fmt: skip
    assert read_label_studio(minimal)[0].tags == ("B-PER", "O")


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ([(0, 3, "PER")], r"task 1\]: entity 'PER' \[0, 3\) 'Joh' ends inside the word 'John'"),
        ([(0, 10, "PER"), (5, 10, "LOC")], r"task 1\]: entity 'LOC' .* overlaps entity 'PER'"),
    ],
)
def test_label_studio_spans_off_word_boundaries_name_the_task(tmp_path, spans, message) -> None:
    import json

    from ner_bert import DataFormatError, read_label_studio

    path = tmp_path / "export.json"
    path.write_text(json.dumps([_label_studio_task("John Smith lives in Paris.", spans)]))
    with pytest.raises(DataFormatError, match=message):
        read_label_studio(path)


def test_doccano_jsonl_reads_and_writes(tmp_path) -> None:
    import json

    from ner_bert import read_jsonl
    from ner_bert.data.jsonl import write_jsonl

    exported = tmp_path / "doccano.jsonl"  # doccano's export of entity objects
    exported.write_text(
        json.dumps(
            {
                "id": 7,
                "text": "Ann met Bob",
                "entities": [
                    {"id": 1, "label": "PER", "start_offset": 0, "end_offset": 3},
                    {"id": 2, "label": "PER", "start_offset": 8, "end_offset": 11},
                ],
                "relations": [],
            }
        )
    )
    sentences = read_jsonl(exported)
    assert sentences[0].tags == ("B-PER", "O", "B-PER")
    written = tmp_path / "import.jsonl"
    write_jsonl(written, sentences, style="doccano")
    expected = {"text": "Ann met Bob", "label": [[0, 3, "PER"], [8, 11, "PER"]]}
    assert json.loads(written.read_text()) == expected
    assert read_jsonl(written)[0].tags == sentences[0].tags


# --- the CLI reads datasets through datasets.load_dataset ----------------------------------------


def test_the_cli_trains_and_evaluates_on_a_local_dataset(tiny_encoder_dir, tmp_path, capsys):
    import json

    from ner_bert.cli.main import main

    folder = tmp_path / "conll_like"
    folder.mkdir()
    for split, n, seed in (("train", 30, 0), ("validation", 8, 1), ("test", 8, 2)):
        rows = [{"tokens": list(s.words), "ner_tags": list(s.tags)} for s in synthetic(n, seed)]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "model"
    argv = ["train", "--model", str(tiny_encoder_dir), "--dataset", str(folder), "--output",
            str(out), "--epochs", "1", "--batch-size", "8", "--no-progress-bar"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    scores = json.loads((out / "scores.json").read_text())
    assert {"dev", "test"} <= set(scores)
    capsys.readouterr()
    evaluate = ["evaluate", "--model", str(out), "--dataset", str(folder), "--json"]
    assert main([*evaluate, "--split", "validation"]) == 0
    assert json.loads(capsys.readouterr().out)["n_sentences"] == 8
    assert main([*evaluate, "--split", "dev"]) == 2
    assert "no split 'dev'" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(out)]) == 2
    assert "one of --data FILE or --dataset NAME_OR_PATH is required" in capsys.readouterr().err
    assert main([*evaluate[:3], "--dataset", str(tmp_path / "nothing")]) == 2
    assert "datasets.load_dataset cannot load it" in capsys.readouterr().err


def test_displacy_shows_the_labels_of_a_loaded_model_in_colour(tmp_path) -> None:
    import spacy
    from spacy import displacy
    from spacy.tokens import Span

    from ner_bert.spacy.rendering import label_color

    labels = ("O", "B-ZEBRAFISH_GENE", "I-ZEBRAFISH_GENE")  # a type no other test loads
    model = tiny_models.build_tiny_bert(tmp_path / "genes", labels=labels)
    nlp = spacy.blank("en")
    doc = nlp.make_doc("the shha gene")
    doc.ents = [Span(doc, 1, 2, "ZEBRAFISH_GENE")]
    colour = f"background: {label_color('ZEBRAFISH_GENE')}"
    assert colour not in displacy.render(doc, style="ent")  # grey: displaCy does not know it
    nlp.add_pipe("ner_bert", config={"model": str(model)})
    nlp.initialize()
    assert colour in displacy.render(doc, style="ent")


def test_render_entities_marks_exact_offsets_and_names_the_text_of_bad_entities() -> None:
    from ner_bert import DataFormatError, Entity
    from ner_bert.spacy.rendering import render_entities

    text = "U.S.-based <IAEA> & Iran’s"
    entities = [Entity("LOC", 0, 4, 0.91, "U.S."), Entity("ORG", 12, 16, 0.5, "IAEA")]
    markup = render_entities([text], [entities], titles=["news.txt:3"], page=False)
    assert not markup.lstrip().startswith("<!DOCTYPE")
    assert "news.txt:3" in markup and "&lt;" in markup and "&amp;" in markup  # escaped
    assert 'title="LOC 0.910 [0, 4)"' in markup and 'title="ORG 0.500 [12, 16)"' in markup
    assert "-based" in markup.split("U.S.", 1)[1]  # the mark ends where the entity does
    cases = [
        ([Entity("LOC", 0, 4, 0.9, "U.S."), Entity("LOC", 2, 6, 0.9, "S.-b")], "overlaps"),
        ([Entity("LOC", 20, 40, 0.9, "x")], "outside the text"),
        ([Entity("LOC", 0, 4, 0.9, "U.K.")], "offsets do not match"),
    ]
    for bad, message in cases:
        with pytest.raises(DataFormatError, match=f"news.txt:3: .*{message}"):
            render_entities([text], [bad], titles=["news.txt:3"])
    with pytest.raises(DataFormatError, match="one of each per text"):
        render_entities([text, text], [entities])


def test_the_card_names_the_base_model_only_when_it_is_on_the_hub(tmp_path) -> None:
    from huggingface_hub import ModelCard

    from ner_bert.model.card import model_card

    local = tmp_path / "encoders" / "minilm"
    local.mkdir(parents=True)
    for base, expected in [("bert-base-cased", "bert-base-cased"),
                           ("google/electra-small", "google/electra-small"),
                           (str(local), None), ("./minilm", None)]:  # fmt: skip
        text = model_card({"labels": ["O", "B-PER", "I-PER"], "base_model": base}, name="x")
        assert ModelCard(text).data.base_model == expected
        assert f"fine-tuned from `{base}`" in text
