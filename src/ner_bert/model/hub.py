"""Sharing a saved model folder on the Hugging Face Hub (``huggingface_hub``).

``huggingface_hub`` does the upload (``HfApi.create_repo`` and ``create_commit``); ner_bert
adds what a folder of its own needs first: the folder is checked against the file list in
its ``ner_bert.json`` (a folder whose parts were not saved together is never shared), and an
unedited model card is written again for the repository, so its usage snippets load
``org/name`` instead of the folder's name. A card the user edited is pushed as it is.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from pathlib import Path

from ..errors import ConfigError, HubError
from .card import model_card
from .files import CARD_FILE, METADATA_FILE
from .loading import check_model_dir

__all__ = ["push_to_hub"]

logger = logging.getLogger(__name__)


def push_to_hub(
    folder: str | Path,
    repo_id: str,
    *,
    token: str | bool | None = None,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    create_pr: bool = False,
) -> str:
    """Upload a saved ner_bert model folder to a Hub model repository (created if needed).

    The folder's files are uploaded (not its subfolders or hidden files) in one commit. The
    model card is written again for ``repo_id`` unless it was edited after saving (its
    SHA-256 in ``ner_bert.json`` tells).

    Args:
        folder: A folder written by ``NERTrainer.save``, ``NERPredictor.save`` or
            ``ner-bert train``.
        repo_id: The repository, ``"org/name"`` or ``"name"`` (under your user).
        token: Hub token (``None``: the saved login or ``HF_TOKEN``).
        private: Create the repository private (``None``: the Hub's default); an existing
            repository keeps its visibility.
        revision: Branch to push to (default ``main``).
        commit_message: Default ``"Upload <name> with ner_bert"``.
        create_pr: Open a pull request instead of committing to the branch.

    Returns:
        The URL of the commit (or of the pull request with ``create_pr``).

    Raises:
        ModelLoadError: ``folder`` is not a complete model folder (the message names the
            missing or changed file).
        ConfigError: ``folder`` has no ``ner_bert.json``, or ``repo_id`` is empty.
        HubError: The Hub refused the push or cannot be reached (the message says why).
    """
    folder = Path(folder)
    metadata = check_model_dir(folder)
    if metadata is None:
        raise ConfigError(
            f"{folder}: no {METADATA_FILE}; push_to_hub shares folders saved by ner_bert. For "
            "any other folder use huggingface_hub.upload_folder."
        )
    if not repo_id.strip():
        raise ConfigError("repo_id is empty; name the repository, e.g. 'my-org/my-ner'.")
    files: dict[str, Path | bytes] = {p.name: p for p in sorted(folder.iterdir()) if _shared(p)}
    files[CARD_FILE] = _card_for(folder, metadata, repo_id)
    message = commit_message or f"Upload {repo_id.split('/')[-1]} with ner_bert"
    return _upload(files, repo_id, token, private, revision, message, create_pr)


def _shared(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".")


def _card_for(folder: Path, metadata: dict[str, object], repo_id: str) -> bytes:
    """The card to push: the folder's own if the user edited it (or it cannot be told),
    else one naming the repository."""
    path = folder / CARD_FILE
    card = path.read_bytes() if path.is_file() else None
    meta = {key: value for key, value in metadata.items() if key not in ("files", "card_sha256")}
    saved = metadata.get("card_sha256")
    if card is not None and (saved is None or hashlib.sha256(card).hexdigest() != saved):
        logger.warning("pushing %s as it is (edited after saving, or saved without a hash)", path)
        return card
    return model_card(meta, name=repo_id).encode("utf-8")


def _upload(
    files: dict[str, Path | bytes],
    repo_id: str,
    token: str | bool | None,
    private: bool | None,
    revision: str | None,
    message: str,
    create_pr: bool,
) -> str:
    from huggingface_hub import CommitOperationAdd, HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if constants.HF_HUB_OFFLINE:
        raise HubError(
            f"cannot push to {repo_id}: HF_HUB_OFFLINE is set (unset it to reach the Hub)."
        )
    api = HfApi(token=token)
    operations = [CommitOperationAdd(name, data) for name, data in files.items()]
    refused: tuple[type[BaseException], ...] = (
        HfHubHTTPError,
        OfflineModeIsEnabled,
        OSError,
        ValueError,
        *_http_errors(),
    )
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        commit = api.create_commit(
            repo_id,
            operations,
            commit_message=message,
            revision=revision,
            create_pr=create_pr,
        )
    except refused as exc:
        raise HubError(f"pushing to {repo_id} on {api.endpoint} failed: {exc}") from exc
    url = commit.pr_url if create_pr and commit.pr_url else commit.commit_url
    logger.info("pushed %d files to %s: %s", len(files), repo_id, url)
    return str(url)


def _http_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's own errors (connection refused, timeouts): huggingface_hub 1.x
    raises ``httpx`` ones, 2.x ``httpx2`` ones, and neither is an ``OSError``."""
    found: list[type[BaseException]] = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)
