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
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("label", ["O", "o", "B-PER", " PER", "PER\n"])
def test_a_span_label_must_be_an_entity_type(tmp_path, label) -> None:
    import json

    from ner_bert import DataFormatError, read_jsonl

    path = tmp_path / "spans.jsonl"
    record = {"text": "John lives here", "entities": [{"start": 0, "end": 4, "label": label}]}
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(DataFormatError, match=f"{path}:1"):
        read_jsonl(path)
