"""Masked-LM adaptation (ner_bert.pretraining, ner-bert pretrain) on tiny offline encoders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_training import fast_config, synthetic

from ner_bert import ConfigError, DataFormatError, ModelLoadError, NERPredictor, NERTrainer
from ner_bert.model.files import list_checkpoints
from ner_bert.model.loading import load_tokenizer
from ner_bert.pretraining import (
    AdaptationSettings,
    EncoderAdapter,
    documents_of_sentences,
    documents_of_texts,
    read_text_corpus,
)
from ner_bert.pretraining.packing import MaskingCollator, pack_documents
from ner_bert.subwords.encoding import TextEncoder
from ner_bert.types import TaggedSentence

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
SETTINGS = AdaptationSettings(max_length=32, epochs=3, batch_size=16, learning_rate=3e-3)


def corpus(n: int = 600, seed: int = 0) -> list[list[list[str]]]:
    """Documents of five synthetic sentences each."""
    sentences = [
        TaggedSentence(words=s.words, tags=s.tags, document=i // 5)
        for i, s in enumerate(synthetic(n, seed))
    ]
    return documents_of_sentences(sentences)


@pytest.fixture(scope="module")
def adapted(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    adapter = EncoderAdapter(tiny_encoder_dir, settings=SETTINGS, progress_bar=False)
    result = adapter.adapt(corpus())
    folder = tmp_path_factory.mktemp("adapted") / "encoder"
    adapter.save(folder)
    return adapter, result, folder


def test_the_masked_lm_loss_falls(adapted) -> None:
    adapter, result, folder = adapted
    assert result.perplexity_before is not None and result.perplexity_after is not None
    assert result.perplexity_after < 0.5 * result.perplexity_before
    assert result.eval_sequences > 0 and result.train_sequences > 100
    assert result.steps == 3 * -(-result.train_sequences // 16)
    # The encoder had no masked-LM head: the new one predicts through the word embeddings.
    model = adapter.model
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    record = json.loads((folder / "adaptation.json").read_text())
    assert record["result"]["perplexity_after"] == pytest.approx(result.perplexity_after)
    assert record["settings"]["whole_word_mask"] is True


def test_an_adapted_folder_fine_tunes_and_predicts(adapted, tmp_path: Path) -> None:
    _, _, folder = adapted
    trainer = NERTrainer(folder, config=fast_config(epochs=3))
    result = trainer.train(synthetic(400, 0), eval=synthetic(100, 1))
    assert result.best_eval is not None and result.best_eval.f1 > 0.5
    trainer.save(tmp_path / "ner")
    (entities,) = NERPredictor.from_pretrained(tmp_path / "ner").predict(["john smith said"])
    assert [(e.text, e.label) for e in entities] == [("john smith", "PER")]


def test_whole_word_masking_masks_every_piece_of_a_word(tiny_encoder_dir: Path) -> None:
    tokenizer = load_tokenizer(str(tiny_encoder_dir))
    encoder = TextEncoder(tokenizer, max_length=64)
    docs = [[["reuters", "said", "antidisestablishment", "today"], ["berlin", "won", "."]]] * 8
    inputs = pack_documents(docs, encoder)
    assert len(inputs) == 8  # one document, both sentences, per sequence
    batch = MaskingCollator(tokenizer, mlm_probability=0.4, whole_word_mask=True, seed=0)(inputs)
    words = [w for sentence in docs[0] for w in sentence]
    pieces = [len(tokenizer.tokenize(w)) for w in words]
    assert pieces[2] > 5  # the tiny vocabulary spells words out: many pieces per word
    masked_words = 0
    for row in (batch["labels"] != -100).tolist():
        position = 1  # after [CLS]
        for n in pieces:
            flags = set(row[position : position + n])
            assert len(flags) == 1, "a word was partly masked"
            masked_words += flags == {True}
            position += n
    assert masked_words > 0
    assert (batch["input_ids"][batch["labels"] != -100] == tokenizer.mask_token_id).all()


def test_text_files_give_documents(tmp_path: Path) -> None:
    plain = tmp_path / "news.txt"
    plain.write_text("Ada left Paris. She flew.\nIt rained.\n\n\nBob stayed in (Berlin).\n")
    jsonl = tmp_path / "notes.jsonl"
    jsonl.write_text(json.dumps({"text": "Dr. Who spoke."}) + "\n\n")
    assert read_text_corpus([plain, jsonl]) == [
        [["Ada", "left", "Paris", "."], ["She", "flew", "."], ["It", "rained", "."]],
        [["Bob", "stayed", "in", "(", "Berlin", ")", "."]],
        [["Dr.", "Who", "spoke", "."]],
    ]
    assert documents_of_texts([""]) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the corpus has no words"),
        (b"\n\n  \n", "the corpus has no words"),
        (b"PK\x03\x04\x00\x00binary", "a binary file"),
        (b"fine\ncaf\xe9\n", ":2: not UTF-8 text"),
    ],
)
def test_bad_text_files_are_errors_naming_the_file(tmp_path: Path, content, message) -> None:
    path = tmp_path / "text.txt"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=message) as caught:
        read_text_corpus([path])
    assert str(path) in str(caught.value)


def test_bad_jsonl_line_names_it(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "ok"}\n{"body": "no text field"}\n')
    with pytest.raises(DataFormatError, match=r"t\.jsonl:2: expected an object with a string"):
        read_text_corpus([path])


def test_a_decoder_model_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "gpt2"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ModelLoadError, match="not a bidirectional encoder"):
        EncoderAdapter(folder)


def test_a_corpus_shorter_than_a_batch_is_refused_before_training(tiny_encoder_dir) -> None:
    adapter = EncoderAdapter(tiny_encoder_dir, settings=SETTINGS, progress_bar=False)
    with pytest.raises(DataFormatError, match="fewer than one batch of 16"):
        adapter.adapt(corpus(20))
    assert adapter.model is None


def test_a_folder_of_yours_is_never_overwritten(adapted, tmp_path: Path) -> None:
    adapter, _, folder = adapted
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="is not an adapted encoder folder"):
        adapter.save(mine)
    with pytest.raises(ConfigError, match="pass overwrite=True"):
        adapter.save(folder)
    adapter.save(folder, overwrite=True)
    assert (mine / "notes.txt").read_text() == "keep me"


def test_bad_settings_and_folders_are_refused_before_training(tiny_encoder_dir, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"warmup_ratio: 1\.5 is out of range"):
        AdaptationSettings(warmup_ratio=1.5)
    with pytest.raises(ConfigError, match="mixed_precision must be one of"):
        AdaptationSettings(mixed_precision="int4")
    with pytest.raises(ModelLoadError, match="longer than"):
        EncoderAdapter(tiny_encoder_dir, settings=AdaptationSettings(max_length=4096))
    from ner_bert.pretraining.adapter import check_target

    with pytest.raises(ConfigError, match="overlap"):
        check_target(tmp_path / "out", overwrite=False, checkpoint_dir=tmp_path / "out" / "ckpt")


def test_resume_with_other_settings_is_refused(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    checkpoints = tmp_path / "ckpt"
    first = EncoderAdapter(
        tiny_encoder_dir,
        settings=AdaptationSettings(max_length=32, epochs=1, batch_size=16),
        checkpoint_dir=checkpoints,
        progress_bar=False,
    )
    first.adapt(corpus(200))
    assert list_checkpoints(checkpoints)
    other = EncoderAdapter(
        tiny_encoder_dir,
        settings=AdaptationSettings(max_length=32, epochs=2, batch_size=16, learning_rate=1e-3),
        checkpoint_dir=checkpoints,
        progress_bar=False,
    )
    with pytest.raises(ConfigError, match=r"learning_rate 5e-05 -> 0\.001"):
        other.adapt(corpus(200), resume_from=checkpoints)
    assert other.model is None


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from transformers import TrainerCallback
    from ner_bert.cli import main

    class KillAtFirstCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)

    import transformers
    original = transformers.Trainer.__init__
    def patched(self, *a, callbacks=None, **k):
        original(self, *a, callbacks=[*(callbacks or []), KillAtFirstCheckpoint()], **k)
    transformers.Trainer.__init__ = patched
    sys.exit(main(sys.argv[1:]))
    """
)


def _pretrain(*args: str | Path, script: Path | None = None) -> subprocess.CompletedProcess[str]:
    head = [str(script)] if script else ["-m", "ner_bert"]
    return subprocess.run(
        [sys.executable, *head, *([] if script else ["pretrain"]), *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )


def test_cli_pretrain_resumes_after_a_kill(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "train.conll"
    lines = []
    for i, s in enumerate(synthetic(300, 3)):
        if i % 5 == 0:
            lines.append("-DOCSTART- O\n")
        lines += [f"{w} {t}\n" for w, t in zip(s.words, s.tags, strict=True)] + ["\n"]
    data.write_text("".join(lines))
    common = ["--model", tiny_encoder_dir, "--from-data", data, "--epochs", "3"]
    common += ["--batch-size", "16", "--max-length", "32", "--learning-rate", "3e-3"]
    full = _pretrain(*common, "--output", tmp_path / "full")
    assert full.returncode == 0, full.stderr[-2000:]
    perplexity = full.stdout.splitlines()[0]
    assert perplexity.startswith("masked-LM perplexity on held-out text: ")

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    checkpoints = tmp_path / "ckpt"
    killed = _pretrain(
        "pretrain", *common, "--output", tmp_path / "x", "--checkpoint-dir", checkpoints,
        script=script,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert len(list_checkpoints(checkpoints)) == 1 and not (tmp_path / "x").exists()
    resumed = _pretrain(
        *common, "--output", tmp_path / "resumed", "--checkpoint-dir", checkpoints, "--resume"
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.splitlines()[0] == perplexity  # the same model as without the kill
    # The adapted folder is an encoder ner-bert train takes.
    assert (tmp_path / "resumed" / "adaptation.json").is_file()


def test_a_datasets_text_column_is_a_corpus_and_a_missing_text_is_named() -> None:
    import datasets

    from ner_bert import InputTypeError

    table = datasets.Dataset.from_dict({"text": ["Ada left. Bob stayed.", "Rome is old."]})
    assert documents_of_texts(table["text"]) == [
        [["Ada", "left", "."], ["Bob", "stayed", "."]],
        [["Rome", "is", "old", "."]],
    ]
    with pytest.raises(InputTypeError, match="text 1 of the corpus is NoneType"):
        documents_of_texts(datasets.Dataset.from_dict({"text": ["Ada left.", None]})["text"])
