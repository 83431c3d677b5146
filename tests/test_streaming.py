"""Training on a streamed datasets.IterableDataset: read as training goes, never materialized."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import ClassLabel, Features, IterableDataset, IterableDatasetDict, List, Value
from test_training import fast_config, synthetic
from transformers import TrainerCallback

from ner_bert import ConfigError, DataFormatError, LabelError, LabelSet, NERPredictor, NERTrainer
from ner_bert.data.hf_datasets import stream_hf_dataset
from ner_bert.training.streaming import PEEK_ROWS

SENTENCES = synthetic(2400, 0)
NAMES = list(LabelSet.from_tags(t for s in SENTENCES for t in s.tags).labels)


class Rows:
    """A row generator for IterableDataset.from_generator that counts the rows read."""

    def __init__(
        self, sentences, *, class_label=True, documents=False, short_row: int | None = None
    ):
        self.sentences = sentences
        self.class_label = class_label
        self.documents = documents
        self.short_row = short_row  # this row gets one tag too few
        self.read = 0

    def __call__(self):
        for i, s in enumerate(self.sentences):
            self.read += 1
            tags = [NAMES.index(t) for t in s.tags] if self.class_label else list(s.tags)
            row = {"tokens": list(s.words), "ner_tags": tags[:-1] if i == self.short_row else tags}
            if self.documents:
                row["document_id"] = f"doc{i // 4}"
            yield row

    def stream(self) -> IterableDataset:
        tags = ClassLabel(names=NAMES) if self.class_label else Value("string")
        features = {"tokens": List(Value("string")), "ner_tags": List(tags)}
        if self.documents:
            features["document_id"] = Value("string")
        return IterableDataset.from_generator(self, features=Features(features))


class RowsAtFirstStep(TrainerCallback):
    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.at_first_step: int | None = None

    def on_step_end(self, args, state, control, **kwargs):
        if self.at_first_step is None:
            self.at_first_step = self.rows.read


def test_training_on_a_stream_reads_it_as_it_goes(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    rows = Rows(SENTENCES)
    probe = RowsAtFirstStep(rows)
    trainer = NERTrainer(
        tiny_encoder_dir,
        config=fast_config(),
        training_args={"max_steps": 120},
        callbacks=[probe],
    )
    result = trainer.train(rows.stream(), eval=synthetic(100, 1))
    # Up front only the first PEEK_ROWS rows were read; at the first step, one chunk more.
    assert probe.at_first_step is not None and probe.at_first_step < PEEK_ROWS + 600
    assert probe.at_first_step < len(SENTENCES) < rows.read + 1
    assert result.global_steps == 120
    assert result.labels == tuple(NAMES)  # the ClassLabel's order
    assert result.best_eval is not None and result.best_eval.f1 > 0.5
    assert result.data["train"] is None  # a stream's size is not known
    trainer.save(tmp_path / "model")
    (entities,) = NERPredictor.from_pretrained(tmp_path / "model").predict(["john smith said"])
    assert [e.label for e in entities] == ["PER"]


def test_a_streamed_dataset_dict_with_document_context(tiny_encoder_dir: Path) -> None:
    train = Rows(SENTENCES[:400], documents=True)
    dev = Rows(SENTENCES[400:440], documents=True)
    splits = IterableDatasetDict({"train": train.stream(), "validation": dev.stream()})
    trainer = NERTrainer(
        tiny_encoder_dir, config=fast_config(context_size=8), training_args={"max_steps": 30}
    )
    result = trainer.train(splits)
    assert result.global_steps == 30
    assert result.best_eval is not None and result.best_eval.n_sentences == 40


def test_a_stream_without_class_label_needs_labels(tiny_encoder_dir: Path) -> None:
    stream = Rows(SENTENCES[:50], class_label=False).stream()
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(), training_args={"max_steps": 5})
    with pytest.raises(LabelError, match="cannot be read ahead for its labels"):
        trainer.train(stream)
    assert trainer.model is None
    labelled = NERTrainer(
        tiny_encoder_dir, labels=NAMES, config=fast_config(), training_args={"max_steps": 5}
    )
    assert labelled.train(stream).global_steps == 5


def test_a_stream_needs_max_steps(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config())
    with pytest.raises(ConfigError, match="max_steps"):
        trainer.train(Rows(SENTENCES[:50]).stream())
    assert trainer.model is None


def test_a_bad_row_after_the_first_rows_stops_training_naming_it(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(), training_args={"max_steps": 200})
    late = Rows(SENTENCES[: PEEK_ROWS + 300], short_row=PEEK_ROWS + 100)
    with pytest.raises(DataFormatError, match=rf"train\[{PEEK_ROWS + 100}\]: \d+ words but \d+"):
        trainer.train(late.stream())
    assert trainer.hf_trainer is None  # stopped inside the Trainer's loop
    early = Rows(SENTENCES[:20], short_row=3)
    with pytest.raises(DataFormatError, match=r"train\[3\]: \d+ words but \d+ tags"):
        trainer.train(early.stream())
    assert early.read < 20  # found among the first rows, before any model was loaded


def test_a_late_unknown_tag_names_its_row(tiny_encoder_dir: Path) -> None:
    rows = Rows(SENTENCES[: PEEK_ROWS + 200], class_label=False)
    late = list(rows.sentences)
    late[PEEK_ROWS + 50] = type(late[0])(words=("the", "zorro"), tags=("O", "B-HERO"))
    rows.sentences = late
    trainer = NERTrainer(
        tiny_encoder_dir, labels=NAMES, config=fast_config(), training_args={"max_steps": 500}
    )
    with pytest.raises(LabelError, match=rf"train\[{PEEK_ROWS + 50}\]: tags \['B-HERO'\]"):
        trainer.train(rows.stream())


def test_streams_refuse_loader_workers_and_missing_columns(tiny_encoder_dir: Path) -> None:
    args = {"max_steps": 5, "dataloader_num_workers": 2}
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(), training_args=args)
    with pytest.raises(ConfigError, match="dataloader_num_workers must be 0"):
        trainer.train(Rows(SENTENCES[:50]).stream())
    renamed = Rows(SENTENCES[:50]).stream().rename_column("tokens", "words")
    with pytest.raises(DataFormatError, match=r"train: no column 'tokens'; the columns are"):
        next(stream_hf_dataset(renamed))


def test_stream_hf_dataset_documents_are_runs_of_consecutive_rows() -> None:
    rows = [
        {"tokens": ["a"], "ner_tags": ["O"], "doc_id": "x"},
        {"tokens": ["b"], "ner_tags": ["O"], "doc_id": "x"},
        {"tokens": ["c"], "ner_tags": ["B-PER"], "doc_id": "y"},
        {"tokens": ["d"], "ner_tags": ["O"], "doc_id": "x"},
    ]
    stream = IterableDataset.from_generator(lambda: iter(rows))
    read = list(stream_hf_dataset(stream))
    assert [s.document for s in read] == [0, 0, 1, 2]
    assert [s.source for s in read] == [f"train[{i}]" for i in range(4)]
    bioes = IterableDataset.from_generator(
        lambda: iter([{"tokens": ["Ada", "Lovelace"], "ner_tags": ["B-PER", "E-PER"]}])
    )
    assert next(stream_hf_dataset(bioes, scheme="BIOES")).tags == ("B-PER", "I-PER")
    with pytest.raises(DataFormatError, match=r"train\[0\]: no column 'words'"):
        next(stream_hf_dataset(bioes, tokens_column="words"))
