"""serialization: file names, metadata, output/checkpoint directory checks; checkpoint files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ner_bert import ConfigError, ModelLoadError
from ner_bert.checkpoint import (
    capture_rng,
    find_checkpoint,
    load_into,
    read_checkpoint,
    restore_rng,
    write_checkpoint,
)
from ner_bert.errors import DataNotFoundError
from ner_bert.serialization import (
    METADATA_FILE,
    TRAINER_STATE_FILE,
    atomic_write_text,
    check_checkpoint_dir,
    check_output_dir,
    checkpoint_name,
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
    check_output_dir(tmp_path)  # ours: fine


def test_checkpoint_names_and_listing(tmp_path: Path) -> None:
    assert checkpoint_name(12) == "epoch-0012"
    for epoch in (2, 10, 1):
        (tmp_path / checkpoint_name(epoch)).mkdir()
        (tmp_path / checkpoint_name(epoch) / TRAINER_STATE_FILE).write_text("{}")
    (tmp_path / "epoch-0003").mkdir()  # incomplete: no trainer state
    (tmp_path / ".epoch-0004.tmp").mkdir()  # crashed write
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "epoch-0001",
        "epoch-0002",
        "epoch-0010",
    ]
    assert find_checkpoint(tmp_path).name == "epoch-0010"
    assert find_checkpoint(tmp_path / "epoch-0002").name == "epoch-0002"
    check_checkpoint_dir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match=r"not ner_bert checkpoints \(notes\.txt\)"):
        check_checkpoint_dir(tmp_path)
    with pytest.raises(DataNotFoundError, match="does not exist"):
        find_checkpoint(tmp_path / "missing")


def test_rng_capture_restore() -> None:
    state = capture_rng()
    first = torch.rand(3)
    restore_rng(state)
    assert torch.equal(torch.rand(3), first)


def test_checkpoint_write_read_restore(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    model(torch.ones(2, 4)).sum().backward()
    optimizer.step()
    scheduler.step()
    best = {k: v.clone() * 0 for k, v in model.state_dict().items()}
    for epoch in (1, 2, 3):
        write_checkpoint(
            tmp_path,
            epoch,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            state={"epoch": epoch, "labels": ["O"]},
            best_weights=best if epoch == 3 else None,
            rank=0,
            is_main=True,
            barrier=lambda: None,
            keep=2,
        )
    assert [p.name for p in list_checkpoints(tmp_path)] == ["epoch-0002", "epoch-0003"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    checkpoint = read_checkpoint(find_checkpoint(tmp_path))
    assert checkpoint.state == {"epoch": 3, "labels": ["O"]}
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    fresh = torch.nn.Linear(4, 3)
    fresh_optimizer = torch.optim.AdamW(fresh.parameters(), lr=0.1)
    fresh_scheduler = torch.optim.lr_scheduler.LambdaLR(fresh_optimizer, lambda s: 1.0 / (s + 1))
    kept = load_into(
        checkpoint, model=fresh, optimizer=fresh_optimizer, scheduler=fresh_scheduler, rank=0
    )
    assert kept is not None and all(torch.equal(kept[k], best[k]) for k in best)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in expected.items())
    assert fresh_scheduler.state_dict()["last_epoch"] == 1
    assert json.loads(json.dumps(fresh_optimizer.state_dict()["param_groups"][0]["lr"])) == 0.05


def test_atomic_write_uses_umask_permissions(tmp_path: Path) -> None:
    import os

    target = tmp_path / "meta.json"
    atomic_write_text(target, "{}")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
