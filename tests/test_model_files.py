"""model.files: file names, metadata, output/checkpoint directory checks, checkpoint listing.

Writing and reading checkpoints is transformers.Trainer's (tested through resume in
test_training.py and test_trainer_integration.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ner_bert import ConfigError, ModelLoadError
from ner_bert.errors import DataNotFoundError
from ner_bert.model.atomic import atomic_write_text
from ner_bert.model.files import (
    METADATA_FILE,
    TRAINER_STATE_FILE,
    check_checkpoint_dir,
    check_output_dir,
    find_checkpoint,
    list_checkpoints,
    read_metadata,
    write_metadata,
)


def test_metadata_round_trip_and_absent(tmp_path: Path) -> None:
    assert read_metadata(tmp_path) is None
    write_metadata(tmp_path, {"format_version": 1, "labels": ["O"]})
    assert read_metadata(tmp_path) == {"format_version": 1, "labels": ["O"]}
    (tmp_path / METADATA_FILE).write_text("[1, 2]")
    with pytest.raises(ModelLoadError, match="expected a JSON object"):
        read_metadata(tmp_path)
    (tmp_path / METADATA_FILE).write_text("{broken")
    with pytest.raises(ModelLoadError, match="could not read"):
        read_metadata(tmp_path)


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "a.json", "1")
    atomic_write_text(tmp_path / "a.json", "2")
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert (tmp_path / "a.json").read_text() == "2"


def test_check_output_dir(tmp_path: Path) -> None:
    check_output_dir(tmp_path / "new")  # absent: fine
    check_output_dir(tmp_path)  # empty: fine
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ConfigError, match="is an existing file"):
        check_output_dir(tmp_path / "file.txt")
    with pytest.raises(ConfigError, match="not a ner_bert model directory"):
        check_output_dir(tmp_path)
    write_metadata(tmp_path, {"format_version": 1})
    with pytest.raises(ConfigError, match="already holds a ner_bert model; pass overwrite=True"):
        check_output_dir(tmp_path)  # ours: only when asked
    check_output_dir(tmp_path, overwrite=True)
    with pytest.raises(ConfigError, match="not a ner_bert model directory"):
        check_output_dir(tmp_path / "..", overwrite=True)  # never someone else's folder


def test_checkpoint_names_and_listing(tmp_path: Path) -> None:
    for step in (20, 100, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / TRAINER_STATE_FILE).write_text("{}")
    (tmp_path / "checkpoint-30").mkdir()  # incomplete: no trainer state
    (tmp_path / "runs").mkdir()  # TensorBoard logs of report_to
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "checkpoint-10",
        "checkpoint-20",
        "checkpoint-100",
    ]
    assert find_checkpoint(tmp_path).name == "checkpoint-100"
    assert find_checkpoint(tmp_path / "checkpoint-20").name == "checkpoint-20"
    check_checkpoint_dir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match=r"not ner_bert checkpoints \(notes\.txt\)"):
        check_checkpoint_dir(tmp_path)
    with pytest.raises(DataNotFoundError, match="does not exist"):
        find_checkpoint(tmp_path / "missing")


def test_atomic_write_uses_umask_permissions(tmp_path: Path) -> None:
    import os

    target = tmp_path / "meta.json"
    atomic_write_text(target, "{}")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
