"""Pushing models to the Hub: the real huggingface_hub client against a local fake Hub
(tests/fake_hub.py), in-process and through the real CLI; no network."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fake_hub import FakeHub
from huggingface_hub import ModelCard, constants

import ner_bert
from ner_bert import HubError, ModelLoadError, NERPredictor

REPO = "org/tiny-ner"


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch):
    """A fake Hub that huggingface_hub in this process talks to (offline mode lifted)."""
    with FakeHub() as fake:
        monkeypatch.setattr(constants, "ENDPOINT", fake.endpoint)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        yield fake


@pytest.fixture
def folder(trained_tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A folder saved by ner_bert, with a training.toml beside the model as the CLI writes,
    a hidden file and a subfolder (neither is pushed)."""
    copy = tmp_path / "my-ner"
    NERPredictor.from_pretrained(trained_tiny_model_dir).save(copy)
    (copy / "training.toml").write_text('model = "tiny"\n')
    (copy / ".notes").write_text("private\n")
    (copy / "runs").mkdir()
    (copy / "runs" / "events").write_text("log\n")
    return copy


def _downloaded(hub: FakeHub, repo: str, where: Path) -> Path:
    where.mkdir()
    for name, data in hub.files[repo].items():
        (where / name).write_bytes(data)
    return where


def test_push_folder_uploads_its_files_with_a_card_for_the_repo(
    hub: FakeHub, folder: Path, tmp_path: Path
) -> None:
    url = ner_bert.push_to_hub(folder, REPO, token="hf_secret", private=True)
    assert url == f"{hub.endpoint}/{REPO}/commit/0123456789abcdef0123456789abcdef01234567"
    pushed = hub.files[REPO]
    expected = {p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert set(pushed) == expected and "training.toml" in pushed and "model.safetensors" in pushed
    for name in expected - {"README.md"}:
        assert pushed[name] == (folder / name).read_bytes(), name
    assert hub.repos[REPO]["visibility"] == "private"
    assert hub.commits == [
        {"repo": REPO, "revision": "main", "summary": "Upload tiny-ner with ner_bert"}
        | {k: v for k, v in hub.commits[0].items() if k not in ("repo", "revision", "summary")}
    ]
    assert all(auth == "Bearer hf_secret" for method, _, auth in hub.requests if method == "POST")
    card = ModelCard(pushed["README.md"].decode())
    assert card.data.library_name == "transformers" and "ner_bert" in card.data.tags
    assert f'NERPredictor.from_pretrained("{REPO}")' in card.text
    assert "my-ner" not in card.text  # the folder's name was replaced by the repository's
    # What was pushed loads and predicts as the folder does.
    text = "john smith lives in paris ."
    original = NERPredictor.from_pretrained(folder).predict_text(text)
    pulled = NERPredictor.from_pretrained(_downloaded(hub, REPO, tmp_path / "pulled"))
    assert pulled.predict_text(text) == original and original


def test_an_edited_card_is_pushed_as_it_is(hub: FakeHub, folder: Path) -> None:
    edited = (folder / "README.md").read_text() + "\nTrained on our support tickets.\n"
    (folder / "README.md").write_text(edited)
    ner_bert.push_to_hub(folder, REPO, commit_message="first model")
    assert hub.files[REPO]["README.md"].decode() == edited
    assert hub.commits[0]["summary"] == "first model"


def test_predictor_push_to_hub_saves_and_pushes(hub: FakeHub, trained_tiny_model_dir: Path) -> None:
    predictor = NERPredictor.from_pretrained(trained_tiny_model_dir)
    url = predictor.push_to_hub("someone/shared", revision="dev", create_pr=True)
    assert url == f"{hub.endpoint}/someone/shared/discussions/1"
    assert hub.commits[0]["revision"] == "dev"
    assert {"config.json", "model.safetensors", "ner_bert.json", "README.md"} <= set(
        hub.files["someone/shared"]
    )
    meta = json.loads(hub.files["someone/shared"]["ner_bert.json"])
    assert meta["labels"] == list(predictor.labels.labels)


def test_a_changed_folder_is_refused_before_any_request(hub: FakeHub, folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ModelLoadError, match=r"model\.safetensors"):
        ner_bert.push_to_hub(folder, REPO)
    assert hub.requests == []


def test_a_folder_without_ner_bert_json_is_a_config_error(hub: FakeHub, folder: Path) -> None:
    (folder / "ner_bert.json").unlink()
    with pytest.raises(ner_bert.ConfigError, match="upload_folder"):
        ner_bert.push_to_hub(folder, REPO)
    assert hub.requests == []


def test_offline_mode_is_a_hub_error(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match="HF_HUB_OFFLINE is set"):
        ner_bert.push_to_hub(folder, REPO)


def test_a_refusal_is_a_hub_error_naming_the_repo(folder: Path, monkeypatch) -> None:
    with FakeHub(refuse=403) as hub:
        monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        refused = re.escape(f"pushing to {REPO} on {hub.endpoint} failed: 403")
        with pytest.raises(HubError, match=refused):
            ner_bert.push_to_hub(folder, REPO, token="hf_wrong")


def test_an_unreachable_hub_is_a_hub_error(folder: Path, monkeypatch) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(HubError, match=f"pushing to {REPO} on http://127.0.0.1:{port} failed"):
        ner_bert.push_to_hub(folder, REPO, token="hf_x")


def test_a_card_is_regenerated_only_if_unedited(hub: FakeHub, folder: Path, tmp_path) -> None:
    renamed = tmp_path / "renamed-folder"
    folder.rename(renamed)  # the saved card names "my-ner"; unedited, it is rewritten anyway
    ner_bert.push_to_hub(renamed, REPO)
    card = hub.files[REPO]["README.md"].decode()
    assert f'NERPredictor.from_pretrained("{REPO}")' in card and "my-ner" not in card


def _cli(*args: str | Path, endpoint: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": "0", "HF_TOKEN": "hf_env"}
    return subprocess.run(
        [sys.executable, "-m", "ner_bert", "push", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_push(folder: Path) -> None:
    with FakeHub() as hub:
        done = _cli(folder, REPO, "--private", "--message", "v1", endpoint=hub.endpoint)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == (
            f"pushed {folder} to {REPO}: {hub.endpoint}/{REPO}/commit/"
            "0123456789abcdef0123456789abcdef01234567"
        )
        assert hub.commits[0]["summary"] == "v1" and hub.repos[REPO]["visibility"] == "private"
        assert {a for m, _, a in hub.requests if m == "POST"} == {"Bearer hf_env"}
        missing = _cli(folder / "nothing", REPO, endpoint=hub.endpoint)
    assert missing.returncode == 2
    (line,) = missing.stderr.strip().splitlines()
    assert line.startswith("ner-bert") and "model directory not found" in line
