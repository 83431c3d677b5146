"""NERTrainer on tiny offline models: it learns, resumes exactly, saves and reloads, and rejects
bad input with ner_bert errors before any training starts."""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ner_bert import (
    ConfigError,
    DataFormatError,
    LabelError,
    ModelLoadError,
    NerBertError,
    TaggedSentence,
)
from ner_bert.config import TrainingConfig
from ner_bert.model.files import METADATA_FILE, WEIGHTS_FILE, list_checkpoints
from ner_bert.training.trainer import NERTrainer, TrainingResult

FILLERS = ["the", "a", "of", "in", "on", "visited", "said", "today", "and", "with", "from", "bank"]
MENTIONS = [
    (["john", "smith"], "PER"),
    (["mary"], "PER"),
    (["paris"], "LOC"),
    (["new", "york"], "LOC"),
    (["berlin"], "LOC"),
    (["reuters"], "ORG"),
    (["european", "union"], "ORG"),
    (["eu"], "ORG"),
]


def synthetic(
    n: int, seed: int, *, min_words: int = 3, max_words: int = 10
) -> list[TaggedSentence]:
    """Sentences of filler words with PER/LOC/ORG mentions (some of two words)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words: list[str] = []
        tags: list[str] = []
        for _ in range(rng.randint(min_words, max_words)):
            if rng.random() < 0.3:
                mention, kind = rng.choice(MENTIONS)
                words += mention
                tags += ["B-" + kind] + ["I-" + kind] * (len(mention) - 1)
            else:
                words.append(rng.choice(FILLERS))
                tags.append("O")
        out.append(TaggedSentence(words, tags, source=f"synthetic[{len(out)}]"))
    return out


FAST = {"learning_rate": 3e-3, "batch_size": 16, "progress_bar": False, "mixed_precision": "no"}


def fast_config(**overrides: object) -> TrainingConfig:
    return TrainingConfig(**{**FAST, **overrides})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A tiny encoder fine-tuned on the synthetic task, and its saved directory."""
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=3))
    result = trainer.train(synthetic(400, 0), eval=synthetic(100, 1))
    saved = tmp_path_factory.mktemp("saved") / "model"
    trainer.save(saved)
    return trainer, result, saved


def test_tiny_model_learns_the_synthetic_task(trained) -> None:
    trainer, result, _ = trained
    assert isinstance(result, TrainingResult)
    assert [m.epoch for m in result.history] == [1, 2, 3]
    assert result.history[-1].train_loss < result.history[0].train_loss
    assert result.best_f1 is not None and result.best_f1 >= 0.9
    assert result.best_epoch == max(result.history, key=lambda m: m.eval_f1 or 0).epoch
    test = trainer.evaluate(synthetic(100, 2))
    assert test.f1 >= 0.9
    assert test.strict.micro.f1 >= 0.9
    assert trainer.labels is not None
    assert trainer.labels.entity_types == ("LOC", "ORG", "PER")
    json.dumps(result.to_dict())


def test_saved_directory_has_named_parts_and_metadata(trained) -> None:
    trainer, result, saved = trained
    assert (saved / WEIGHTS_FILE).is_file()
    config = json.loads((saved / "config.json").read_text())
    assert config["id2label"]["1"] == "B-LOC"
    assert config["label2id"]["I-PER"] == 6
    meta = json.loads((saved / METADATA_FILE).read_text())
    assert meta["tag_scheme"] == "IOB2"
    assert meta["labels"] == list(trainer.labels.labels)
    assert meta["max_length"] == trainer.max_length
    assert meta["training_config"]["learning_rate"] == FAST["learning_rate"]
    assert meta["metrics"]["eval_f1"] == pytest.approx(result.best_f1)
    assert meta["library_version"]


def test_save_load_gives_the_same_predictions(trained) -> None:
    from ner_bert import NERPredictor

    trainer, _, saved = trained
    sentences = [list(s.words) for s in synthetic(30, 3)]
    expected = trainer.predict_tags(sentences)
    predictor = NERPredictor.from_pretrained(saved, device="cpu")
    got = [[w.tag for w in sentence] for sentence in predictor.predict_words(sentences)]
    assert got == expected
    reloaded = NERTrainer(saved, config=fast_config())
    assert reloaded.labels is None
    assert reloaded.predict_tags(sentences) == expected
    assert reloaded.labels == trainer.labels


def test_saved_directory_loads_in_plain_transformers_pipeline(trained) -> None:
    from transformers import pipeline

    trainer, _, saved = trained
    ner = pipeline("token-classification", model=str(saved), aggregation_strategy="first")
    text = "john smith visited paris with mary"
    found = {(e["word"], e["entity_group"]) for e in ner(text)}
    words = text.split()
    tags = trainer.predict_tags([words])[0]
    from ner_bert.labels import tags_to_spans

    expected = {(" ".join(words[s.start : s.end]), s.label) for s in tags_to_spans(tags)}
    assert found == expected
    assert ("paris", "LOC") in found


def test_long_sentences_are_windowed_not_truncated(tiny_encoder_dir: Path) -> None:
    from ner_bert.subwords.inputs import make_windows

    # Windows of 8 tokens (6 subwords): most synthetic sentences are longer than that.
    config = fast_config(epochs=3, max_length=8, stride=3)
    trainer = NERTrainer(tiny_encoder_dir, config=config)
    train = synthetic(300, 0)
    encoded = trainer._encoder.encode_words([list(s.words) for s in train])
    windows = make_windows(
        encoded,
        trainer._encoder,
        stride=trainer.stride,
        tags=[s.tags for s in train],
        label2id={"O": 0, "B-LOC": 1, "I-LOC": 2, "B-ORG": 3, "I-ORG": 4, "B-PER": 5, "I-PER": 6},
    )
    assert max(len(w) for w in windows) == 8
    assert sum(1 for e in encoded if len(e) > 6) > 150
    for index, item in enumerate(encoded):  # every subword is in some window
        covered = set()
        for w in windows:
            for p in w.pieces:
                if p.sentence == index:
                    covered.update(range(p.start, p.end))
        assert covered == set(range(len(item)))

    result = trainer.train(train)
    assert result.best_epoch is None  # no eval data
    long = synthetic(30, 4, min_words=20, max_words=30)
    tags = trainer.predict_tags([list(s.words) for s in long])
    assert [len(t) for t in tags] == [len(s) for s in long]
    # Entities far beyond the first window are found: nothing is cut off.
    late = [(t[i], s.tags[i]) for s, t in zip(long, tags, strict=True) for i in range(15, len(s))]
    assert sum(p == g for p, g in late if g != "O") / sum(g != "O" for _, g in late) > 0.8
    assert trainer.evaluate(long).f1 > 0.8


def test_train_accepts_a_datasets_dataset(tiny_encoder_dir: Path) -> None:
    from ner_bert import to_hf_dataset

    data = to_hf_dataset(synthetic(40, 5))
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=1))
    result = trainer.train(data, eval=data)
    assert len(result.history) == 1
    assert trainer.labels is not None and trainer.labels.entity_types == ("LOC", "ORG", "PER")


def test_same_seed_same_result(tiny_encoder_dir: Path) -> None:
    data = synthetic(60, 6)
    runs = []
    for _ in range(2):
        trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=2, seed=7))
        runs.append([m.train_loss for m in trainer.train(data).history])
    assert runs[0] == runs[1]


def test_early_stopping_keeps_the_best_weights(tiny_encoder_dir: Path) -> None:
    # A learning rate far too high makes dev F1 jump around; whatever epoch was best, its
    # weights are the trainer's at the end, and patience 1 stops after the first setback.
    trainer = NERTrainer(
        tiny_encoder_dir,
        config=fast_config(epochs=4, early_stopping_patience=1, seed=1, learning_rate=0.05),
    )
    dev = synthetic(40, 8)
    result = trainer.train(synthetic(100, 7), eval=dev)
    f1s = [m.eval_f1 or 0.0 for m in result.history]
    assert result.best_f1 == pytest.approx(max(f1s))
    assert result.best_epoch == 1 + f1s.index(max(f1s))
    assert trainer.evaluate(dev).f1 == pytest.approx(max(f1s))
    # Stopped at the first epoch that did not improve on the best so far.
    setbacks = [i for i in range(1, len(f1s)) if f1s[i] <= max(f1s[:i])]
    assert len(result.history) == (setbacks[0] + 1 if setbacks else 4)
    assert result.stopped_early == (len(result.history) < 4)


# -- resume ----------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from transformers import TrainerCallback
    from test_training import fast_config, synthetic
    from ner_bert.training import NERTrainer

    class KillAfterFirstCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)

    trainer = NERTrainer(
        {model!r},
        config=fast_config(epochs=3, checkpoint_dir={ckpt!r}),
        callbacks=[KillAfterFirstCheckpoint()],
    )
    trainer.train(synthetic(120, 10), eval=synthetic(40, 11))
    print("NOT KILLED")
    """
)


def test_interrupted_run_resumed_matches_uninterrupted(tiny_encoder_dir: Path, tmp_path: Path):
    checkpoints = tmp_path / "ckpt"
    script = tmp_path / "child.py"
    tests_dir = str(Path(__file__).resolve().parent)
    script.write_text(
        CHILD.format(tests=tests_dir, model=str(tiny_encoder_dir), ckpt=str(checkpoints))
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    child = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert child.returncode == -9, child.stderr[-2000:]
    assert "NOT KILLED" not in child.stdout
    # 120 sentences in batches of 16: 8 steps per epoch; killed after the first epoch's save.
    assert [p.name for p in list_checkpoints(checkpoints)] == ["checkpoint-8"]

    train, dev = synthetic(120, 10), synthetic(40, 11)
    resumed = NERTrainer(
        tiny_encoder_dir, config=fast_config(epochs=3, checkpoint_dir=str(checkpoints))
    )
    resumed_result = resumed.train(train, eval=dev, resume_from=checkpoints)
    straight = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=3))
    straight_result = straight.train(train, eval=dev)

    def summary(result: TrainingResult) -> list[tuple[int, float, float | None]]:
        return [(m.epoch, round(m.train_loss, 6), m.eval_f1) for m in result.history]

    assert summary(resumed_result) == summary(straight_result)
    assert resumed_result.best_f1 == straight_result.best_f1
    words = [list(s.words) for s in dev]
    assert resumed.predict_tags(words) == straight.predict_tags(words)
    # keep_checkpoints=1: at the end of the run the Trainer keeps the best checkpoint only.
    kept = [p.name for p in list_checkpoints(checkpoints)]
    assert kept == [f"checkpoint-{resumed_result.best_step}"]


def test_resume_from_missing_checkpoint_is_a_clear_error(tiny_encoder_dir: Path, tmp_path: Path):
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=1))
    with pytest.raises(NerBertError, match=r"holds no complete checkpoint|does not exist"):
        trainer.train(synthetic(10, 0), resume_from=tmp_path / "nothing")


# -- bad input -------------------------------------------------------------------------------


def test_empty_training_set(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config())
    with pytest.raises(DataFormatError, match="train data is empty"):
        trainer.train([])


def test_training_data_must_be_sentences(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config())
    with pytest.raises(DataFormatError, match="read_conll"):
        trainer.train("train.txt")
    with pytest.raises(DataFormatError, match="item 1 is a tuple"):
        trainer.train([synthetic(1, 0)[0], (("a",), ("O",))])
    with pytest.raises(LabelError, match="no entity at all"):
        trainer.train([TaggedSentence(["a", "b"], ["O", "O"])])


def test_invalid_iob2_tags_are_rejected(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config())
    bad = TaggedSentence(["a", "paris"], ["O", "I-LOC"], source="mine.txt:3")
    with pytest.raises(DataFormatError, match=r"mine\.txt:3.*I-LOC"):
        trainer.train([bad])


def test_labels_outside_the_given_label_set(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(tiny_encoder_dir, labels=["O", "B-PER", "I-PER"], config=fast_config())
    with pytest.raises(LabelError, match=r"entity types \['LOC', 'ORG'\]"):
        trainer.train(synthetic(10, 0))


def test_unseen_eval_labels_warn_and_count_as_errors(
    tiny_encoder_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    train = [s for s in synthetic(80, 12) if not any(t.endswith("ORG") for t in s.tags)]
    dev = synthetic(30, 13)
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=1))
    with caplog.at_level(logging.WARNING, logger="ner_bert"):
        trainer.train(train, eval=dev)
        report = trainer.evaluate(dev)
    assert any("['ORG']" in r.getMessage() for r in caplog.records)
    assert report.conlleval.per_type["ORG"].recall == 0.0


def test_model_path_without_tokenizer(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", WEIGHTS_FILE):
        shutil.copy(tiny_encoder_dir / name, bare / name)
    with pytest.raises(ModelLoadError, match="could not load a tokenizer"):
        NERTrainer(bare)


def test_missing_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="nowhere"):
        NERTrainer(tmp_path / "nowhere")


def test_slow_only_tokenizer(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    from transformers import ByT5Tokenizer

    slow = tmp_path / "slow"
    slow.mkdir()
    for name in ("config.json", WEIGHTS_FILE):
        shutil.copy(tiny_encoder_dir / name, slow / name)
    ByT5Tokenizer().save_pretrained(slow)
    with pytest.raises(ModelLoadError, match="slow"):
        NERTrainer(slow)


def test_encoder_decoder_and_decoder_only_checkpoints(tmp_path: Path) -> None:
    from transformers import GPT2Config, T5Config

    for name, config in (
        ("t5", T5Config(d_model=16, d_ff=32, num_layers=1, num_heads=2, vocab_size=100)),
        (
            "gpt2",
            GPT2Config(
                n_embd=16, n_layer=1, n_head=2, vocab_size=100, bos_token_id=0, eos_token_id=0
            ),
        ),
    ):
        directory = tmp_path / name
        config.save_pretrained(directory)
        with pytest.raises(ModelLoadError, match=r"encoder-decoder|not a bidirectional encoder"):
            NERTrainer(directory, config=fast_config())


def test_a_bert_encoder_with_its_tokenizer_passes_the_checks(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config())
    assert trainer.max_length == 128


def test_config_must_be_a_training_config(tiny_encoder_dir: Path) -> None:
    with pytest.raises(ConfigError, match="TrainingConfig"):
        NERTrainer(tiny_encoder_dir, config={"epochs": 1})  # type: ignore[arg-type]


def test_max_length_longer_than_the_model(tiny_encoder_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="max_length=256"):
        NERTrainer(tiny_encoder_dir, config=fast_config(max_length=256))


def test_output_dir_that_is_not_ours_fails_before_training(
    tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(output_dir=str(foreign)))
    with pytest.raises(ConfigError, match="not a ner_bert model directory"):
        trainer.train(synthetic(10, 0))
    assert trainer.model is None  # nothing was trained
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_save_refuses_foreign_directory_and_untrained_model(
    tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config())
    with pytest.raises(ModelLoadError, match=r"call trainer\.train first"):
        trainer.save(tmp_path / "new")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="not a ner_bert model directory"):
        trainer.save(tmp_path / "used")


def test_checkpoint_dir_with_foreign_files(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("x")
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(checkpoint_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="not ner_bert checkpoints"):
        trainer.train(synthetic(10, 0))


def test_fp16_on_cpu_is_a_config_error(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(mixed_precision="fp16", device="cpu"))
    with pytest.raises(ConfigError, match="fp16"):
        trainer.train(synthetic(10, 0))


def test_byte_level_bpe_tokenizer_gets_add_prefix_space(tmp_path: Path) -> None:
    import tiny_models
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizer

    directory = tmp_path / "roberta"
    tiny_models.build_bpe_tokenizer(directory)
    tokenizer = RobertaTokenizer(
        vocab=str(directory / "vocab.json"),
        merges=str(directory / "merges.txt"),
        add_prefix_space=False,  # as many RoBERTa checkpoints ship
        model_max_length=64,
    )
    tokenizer.save_pretrained(directory)
    config = RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=66,
        pad_token_id=tokenizer.pad_token_id,
    )
    RobertaModel(config).save_pretrained(directory)
    trainer = NERTrainer(directory, config=fast_config(epochs=1))
    assert trainer.max_length == 64
    [encoded] = trainer._encoder.encode_words([["london", "paris"]])
    pieces = trainer.tokenizer.convert_ids_to_tokens(encoded.ids.tolist())
    first = [pieces[i] for i, w in enumerate(encoded.word_ids) if encoded.word_ids.index(w) == i]
    assert all(piece.startswith("Ġ") for piece in first), pieces
    trainer.train(synthetic(20, 0))
    trainer.save(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "tokenizer_config.json").read_text())
    assert saved.get("add_prefix_space") is True


def test_eval_delay_skips_the_first_evaluations(tiny_encoder_dir: Path) -> None:
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=3, eval_delay=2))
    result = trainer.train(synthetic(200, 0), eval=synthetic(50, 1))
    assert [m.eval_f1 is None for m in result.history] == [True, True, False]
    assert result.best_epoch == 3 and result.best_f1 == result.history[-1].eval_f1
