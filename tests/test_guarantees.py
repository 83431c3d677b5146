"""What a kill, a mixed folder or an existing folder can and cannot do (docs: Guarantees)."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tiny_models
from test_training import fast_config, synthetic

from ner_bert import ConfigError, LabelError, ModelLoadError, NERPredictor, NERTrainer
from ner_bert.model import atomic
from ner_bert.model.files import METADATA_FILE, list_checkpoints

OTHER_LABELS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC")


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two ner_bert folders with different weights and label orders."""
    root = tmp_path_factory.mktemp("two_models")
    folders = []
    for seed, labels in ((0, tiny_models.LABELS), (1, OTHER_LABELS)):
        raw = tiny_models.build_tiny_bert(root / f"raw{seed}", labels=labels, seed=seed)
        NERPredictor.from_pretrained(raw).save(root / f"model{seed}")
        folders.append(root / f"model{seed}")
    return folders[0], folders[1]


def _digest(folder: Path) -> str:
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


_SAVER = """
import sys
from ner_bert import NERPredictor
a, b = NERPredictor.from_pretrained(sys.argv[1]), NERPredictor.from_pretrained(sys.argv[2])
print("ready", flush=True)
while True:
    for predictor in (b, a):
        predictor.save(sys.argv[3], overwrite=True)
"""


def test_a_kill_during_save_leaves_the_old_or_the_new_folder(two_models, tmp_path) -> None:
    first, second = two_models
    expected = {
        _digest(first): NERPredictor.from_pretrained(first).labels.labels,
        _digest(second): NERPredictor.from_pretrained(second).labels.labels,
    }
    target = tmp_path / "target"
    shutil.copytree(first, target)
    rng = random.Random(0)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    seen = set()
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(first), str(second), str(target)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        loaded = NERPredictor.from_pretrained(target)  # complete: never a mix of two saves
        digest = _digest(target)
        assert loaded.labels.labels == expected[digest]
        seen.add(digest)
    NERPredictor.from_pretrained(target).save(target, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["target"]  # stale staging folders gone
    assert seen  # at least one outcome was checked (both, on most machines)


def test_leftovers_of_a_killed_save_are_removed_by_the_next_one(two_models, tmp_path):
    first, _ = two_models
    target = tmp_path / "target"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    for kind in ("saving", "old", "write-check"):  # killed while staging, swapping, checking
        (tmp_path / f".target.{kind}-{dead}-x1y2").mkdir()
    (tmp_path / f".target.saving-{os.getpid()}-live").mkdir()  # a live save: left alone
    NERPredictor.from_pretrained(first).save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f".target.saving-{os.getpid()}-live",
        "target",
    ]


def test_the_rename_fallback_also_swaps_whole_folders(two_models, tmp_path, monkeypatch):
    first, second = two_models
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)  # as on a non-Linux system
    target = tmp_path / "target"
    NERPredictor.from_pretrained(first).save(target)
    NERPredictor.from_pretrained(second).save(target, overwrite=True)
    assert _digest(target) == _digest(second)
    assert [p.name for p in tmp_path.iterdir()] == ["target"]


@pytest.mark.parametrize("part", ["model.safetensors", "config.json", METADATA_FILE])
def test_a_folder_that_mixes_two_saves_is_refused(two_models, tmp_path, part) -> None:
    first, second = two_models
    mixed = shutil.copytree(first, tmp_path / "mixed")
    shutil.copy(second / part, mixed / part)
    with pytest.raises(ModelLoadError, match="is not the file saved with"):
        NERPredictor.from_pretrained(mixed)


def test_labels_of_config_and_metadata_must_agree_without_a_manifest(two_models, tmp_path):
    import json

    first, _ = two_models
    mixed = shutil.copytree(first, tmp_path / "mixed")
    meta = json.loads((mixed / METADATA_FILE).read_text())
    del meta["files"]  # as written by ner_bert 0.2
    meta["labels"] = list(OTHER_LABELS)
    (mixed / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="mixes parts of different saves"):
        NERPredictor.from_pretrained(mixed)


def test_saving_never_replaces_a_users_files(two_models, tmp_path) -> None:
    first, _ = two_models
    predictor = NERPredictor.from_pretrained(first)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text("my own")
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match="not a ner_bert model directory"):
            predictor.save(mine, overwrite=overwrite)
    assert [p.name for p in mine.iterdir()] == ["config.json"]
    assert (mine / "config.json").read_text() == "my own"
    model = tmp_path / "model"
    predictor.save(model)
    with pytest.raises(ConfigError, match="pass overwrite=True"):
        predictor.save(model)
    predictor.save(model, overwrite=True)


def test_output_problems_are_found_before_training(tiny_encoder_dir, tmp_path) -> None:
    same = str(tmp_path / "run")
    with pytest.raises(ConfigError, match="overlap"):
        NERTrainer(
            tiny_encoder_dir, config=fast_config(output_dir=same, checkpoint_dir=same)
        ).train(synthetic(8, 0))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root writes anywhere: nothing to test
            pytest.skip("running as a user that can write read-only folders")
        with pytest.raises(ConfigError, match="cannot be written"):
            NERTrainer(tiny_encoder_dir, config=fast_config(output_dir=str(locked / "m"))).train(
                synthetic(8, 0)
            )
    finally:
        locked.chmod(0o700)


@pytest.fixture(scope="module")
def checkpoint_run(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    checkpoints = tmp_path_factory.mktemp("resume") / "ckpt"
    config = fast_config(epochs=2, checkpoint_dir=str(checkpoints))
    NERTrainer(tiny_encoder_dir, config=config).train(synthetic(16, 0))
    return checkpoints


def _resume(model: Path, checkpoints: Path, **changes: object) -> None:
    config = fast_config(epochs=2, checkpoint_dir=str(checkpoints), **changes)
    NERTrainer(model, config=config).train(synthetic(16, 0), resume_from=checkpoints)


def test_resume_with_other_settings_is_refused_before_training(tiny_encoder_dir, checkpoint_run):
    for change, shown in (
        ({"learning_rate": 1e-3}, "learning_rate"),
        ({"batch_size": 4}, "batch_size"),
        ({"seed": 7}, "seed"),
    ):
        with pytest.raises(ConfigError, match=f"differs from the checkpoint's: {shown}"):
            _resume(tiny_encoder_dir, checkpoint_run, **change)
    config = fast_config(epochs=2, checkpoint_dir=str(checkpoint_run))
    with pytest.raises(ConfigError, match="training data 16 sentences"):
        NERTrainer(tiny_encoder_dir, config=config).train(
            synthetic(16, 1), resume_from=checkpoint_run
        )


def test_resume_from_a_checkpoint_of_another_model(checkpoint_run, tmp_path) -> None:
    other = tiny_models.build_tiny_encoder(tmp_path / "other", hidden=48)
    with pytest.raises(ModelLoadError, match="the checkpoint is of another model"):
        _resume(other, checkpoint_run)


def test_resume_without_optimizer_state(tiny_encoder_dir, checkpoint_run, tmp_path) -> None:
    copy = shutil.copytree(checkpoint_run, tmp_path / "ckpt")
    (list_checkpoints(copy)[-1] / "optimizer.pt").unlink()
    with pytest.raises(ModelLoadError, match=r"optimizer\.pt is missing"):
        _resume(tiny_encoder_dir, copy)


def test_resume_with_other_labels(tiny_encoder_dir, checkpoint_run) -> None:
    data = [s for s in synthetic(40, 0) if "B-ORG" not in s.tags][:16]
    config = fast_config(epochs=2, checkpoint_dir=str(checkpoint_run))
    with pytest.raises(LabelError, match="trained with labels"):
        NERTrainer(tiny_encoder_dir, config=config).train(data, resume_from=checkpoint_run)


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("b-per", "lowercase prefix; write it 'B-per'"),
        ("o", "the outside tag is 'O'"),
        ("B-", "no entity type after its prefix"),
        ("B", "a prefix without an entity type"),
        ("B-PER\x07", "control characters"),
    ],
)
def test_bad_tags_are_errors_naming_the_line(tmp_path, tag, message) -> None:
    from ner_bert import TagSchemeError, read_conll

    path = tmp_path / "train.txt"
    path.write_text(f"John B-PER\nlives O\nin O\nParis {tag}\n\n")
    with pytest.raises(TagSchemeError, match=message) as caught:
        read_conll(path)
    assert f"{path}:4" in str(caught.value)  # the line of the bad tag, not of the sentence


@pytest.mark.parametrize("label", ["O", "o", "B-PER", " PER", "PER\n"])
def test_a_span_label_must_be_an_entity_type(tmp_path, label) -> None:
    import json

    from ner_bert import DataFormatError, read_jsonl

    path = tmp_path / "spans.jsonl"
    record = {"text": "John lives here", "entities": [{"start": 0, "end": 4, "label": label}]}
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(DataFormatError, match=f"{path}:1"):
        read_jsonl(path)


# --- words and texts: a str a tokenizer reads, checked where it enters -------------------------


@pytest.mark.parametrize(
    ("word", "error", "message"),
    [
        (None, "InputTypeError", "spans.jsonl:3: word 2 is NoneType; expected a str"),
        (7, "InputTypeError", "spans.jsonl:3: word 2 is int 7; expected a str"),
        (b"Paris", "InputTypeError", "word 2 is bytes b'Paris'"),
        ("Par\udcc3s", "DataFormatError", r"word 2 holds a lone surrogate '\\udcc3' at char"),
    ],
)
def test_a_sentence_word_must_be_text(word, error, message) -> None:
    import ner_bert
    from ner_bert import TaggedSentence

    with pytest.raises(getattr(ner_bert, error), match=message):
        TaggedSentence(words=["John", word], tags=["B-PER", "O"], source="spans.jsonl:3")


def test_a_string_is_not_a_list_of_words() -> None:
    from ner_bert import InputTypeError, TaggedSentence

    with pytest.raises(InputTypeError, match="words is a str, which would be read character"):
        TaggedSentence(words="EU rejects", tags=["B-ORG", "O"] * 5)  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="tag 1 is NoneType"):
        TaggedSentence(words=["EU"], tags=[None])  # type: ignore[list-item]


def test_a_jsonl_text_with_an_escaped_lone_surrogate_names_its_line(tmp_path) -> None:
    from ner_bert import DataFormatError, read_jsonl

    path = tmp_path / "spans.jsonl"
    path.write_text('{"text": "John", "entities": []}\n{"text": "Jo\\udc80hn", "entities": []}\n')
    with pytest.raises(DataFormatError, match=f"{path}:2: the record's 'text' holds a lone"):
        read_jsonl(path)


def test_a_datasets_column_of_strings_is_not_split_into_characters() -> None:
    from datasets import ClassLabel, Dataset, Features, List, Value

    from ner_bert import DataFormatError
    from ner_bert.data.hf_datasets import from_hf_dataset

    # Two characters and two tags: the count matches, so only the column's type gives it away.
    features = Features({"tokens": Value("string"), "ner_tags": List(ClassLabel(names=["O"]))})
    strings = Dataset.from_dict({"tokens": ["ab"], "ner_tags": [[0, 0]]}, features=features)
    with pytest.raises(DataFormatError, match="holds strings, not lists of words"):
        from_hf_dataset(strings)

    features = Features({"tokens": List(Value("string")), "ner_tags": List(Value("string"))})
    rows = {"tokens": [["a"], ["b", None]], "ner_tags": [["O"], ["O", "O"]]}
    with pytest.raises(DataFormatError, match=r"dataset\[1\]: word 2 is NoneType"):
        from_hf_dataset(Dataset.from_dict(rows, features=features))
    missing = {"tokens": [["a"], None], "ner_tags": [["O"], ["O"]]}
    with pytest.raises(DataFormatError, match=r"dataset\[1\]: no words but 1 tags"):
        from_hf_dataset(Dataset.from_dict(missing, features=features))


def test_running_text_given_as_conll_is_refused(tmp_path) -> None:
    from ner_bert import DataFormatError, read_conll

    path = tmp_path / "article.txt"
    path.write_text(" ".join(["word"] * 200_000) + " O\n")  # one word, the rest dropped, before
    with pytest.raises(DataFormatError, match=f"{path}:1: the first token line has 200001"):
        read_conll(path)


def test_predictor_inputs_name_the_bad_item(tiny_model_dir) -> None:
    from ner_bert import DataFormatError, InputTypeError

    predictor = NERPredictor.from_pretrained(tiny_model_dir)
    with pytest.raises(DataFormatError, match=r"texts\[1\] holds a lone surrogate"):
        predictor.predict(["John lives here.", "Caf\udce9 au lait"])
    with pytest.raises(DataFormatError, match=r"sentences\[0\]\[1\] holds a lone surrogate"):
        predictor.predict_words([["John", "\ud800"]])
    with pytest.raises(InputTypeError, match=r"sentences\[0\]\[1\] is int 3"):
        predictor.predict_words([["John", 3]])  # type: ignore[list-item]
    assert predictor.predict(["Caf\u00e9 au lait"])  # non-ASCII text is fine


def test_entity_words_the_tokenizer_drops_are_reported(tiny_encoder_dir, caplog) -> None:
    from ner_bert import TaggedSentence

    dropped = TaggedSentence(words=["\u200b", "lives"], tags=["B-PER", "O"], source="t.txt:9")
    trainer = NERTrainer(tiny_encoder_dir, config=fast_config(epochs=1))
    with caplog.at_level("WARNING", logger="ner_bert"):
        trainer.train([*synthetic(16, 0), dropped])
    assert "1 entity word(s) give no subword" in caplog.text
    assert "word 1 '\\u200b' (tag B-PER) of t.txt:9" in caplog.text


def test_cli_input_that_is_not_utf8_names_the_line(tiny_model_dir, tmp_path) -> None:
    from test_cli import ENV

    argv = [sys.executable, "-m", "ner_bert", "predict", "--model", str(tiny_model_dir), "-"]
    env = {**ENV, "LC_ALL": "C", "PYTHONUTF8": "0"}  # stdin read with surrogateescape by default
    result = subprocess.run(argv, input=b"John lives here.\nCaf\xe9\n", capture_output=True,
                            env=env, timeout=600)  # fmt: skip
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.decode().strip().splitlines()
    assert line.startswith("ner-bert") and "<stdin>:2: is not UTF-8 text" in line


def test_the_cli_reports_bad_input_in_one_line(tiny_model_dir, tmp_path, capsys) -> None:
    from test_cli import one_line_error

    from ner_bert.cli.main import main

    article = tmp_path / "article.txt"
    article.write_text("John lives in Paris and works for the United Nations . " * 20 + "O\n")
    surrogate = tmp_path / "spans.jsonl"
    surrogate.write_text('{"text": "Jo\\udc80hn", "entities": []}\n')
    broken_toml = tmp_path / "train.toml"
    broken_toml.write_text("epochs = [\n")
    empty_model = tmp_path / "empty_model"
    empty_model.mkdir()
    evaluate = ["evaluate", "--model", str(tiny_model_dir), "--data"]
    out = str(tmp_path / "out")
    cases = [
        ([*evaluate, str(article)], f"{article}:1: the first token line has"),
        ([*evaluate, str(surrogate)], f"{surrogate}:1: the record's 'text' holds a lone"),
        (
            ["train", "--model", str(tiny_model_dir), "--train", str(article), "--output", out],
            f"{article}:1",
        ),
        (["predict", "--model", str(tiny_model_dir), str(tmp_path)], str(tmp_path)),
        (["predict", "--model", str(empty_model), str(article)], str(empty_model)),
        (["train", "--config", str(broken_toml)], str(broken_toml)),
    ]
    for argv, where in cases:
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        one_line_error(captured.err, where)
        assert "Traceback" not in captured.err
    assert not (tmp_path / "out").exists()


def test_a_sentence_document_is_an_index() -> None:
    import numpy as np

    from ner_bert import InputTypeError, TaggedSentence

    assert TaggedSentence(words=["a"], tags=["O"], document=np.int64(3)).document == 3
    with pytest.raises(InputTypeError, match=r"x\.txt:1: document is str '3'; expected an int"):
        TaggedSentence(words=["a"], tags=["O"], document="3", source="x.txt:1")  # type: ignore[arg-type]


@pytest.mark.parametrize("part", ["tokenizer.json", "config.json"])
def test_a_corrupt_file_of_a_plain_transformers_folder_is_named(tiny_model_dir, tmp_path, part):
    folder = tmp_path / "raw"
    shutil.copytree(tiny_model_dir, folder)  # no ner_bert.json: no manifest to catch it
    (folder / part).write_text('{"truncated": ')
    with pytest.raises(ModelLoadError, match=str(folder)):
        NERPredictor.from_pretrained(folder)
