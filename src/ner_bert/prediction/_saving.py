"""Loading a :class:`~ner_bert.NERPredictor` from a folder or the hub, and saving it."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from ..config import PredictionConfig
from ..labels import LabelSet
from ..model.files import save_model
from ..model.hub import push_to_hub
from ..model.loading import LoadedModel, load_model
from ..model.onnx_export import copy_onnx_folder
from ..model.onnx_runtime import OnnxModel, is_onnx_folder, load_onnx_model
from ..model.source import HubOptions, looks_local

__all__ = ["SavedPredictorMixin"]


class SavedPredictorMixin:
    """``from_pretrained`` and ``save`` of :class:`~ner_bert.NERPredictor`."""

    config: PredictionConfig
    _labels: LabelSet
    _metadata: dict[str, Any]
    _saveable: Any
    _tokenizer: Any

    if TYPE_CHECKING:  # NERPredictor's constructor, which from_pretrained calls

        def __init__(
            self,
            model: Any,
            tokenizer: Any,
            labels: LabelSet,
            *,
            config: PredictionConfig | None = None,
            metadata: dict[str, Any] | None = None,
            model_path: Path | None = None,
        ) -> None: ...

    @classmethod
    def from_pretrained(
        cls,
        path_or_name: str | Path,
        *,
        device: str | None = None,
        precision: str | None = None,
        labels: Sequence[str] | LabelSet | None = None,
        config: PredictionConfig | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        token: str | bool | None = None,
        cache_dir: str | Path | None = None,
        local_files_only: bool = False,
    ) -> Self:
        """Load a model saved by :class:`~ner_bert.NERTrainer` or any HF token classifier.

        Only ``safetensors`` weights are loaded, and remote code only runs if asked. A folder
        written by :func:`~ner_bert.export_onnx` (``ner-bert export``) runs with ONNX Runtime
        on the CPU (the ``onnx`` extra), with the same methods, offsets and decoding. A hub
        model pushed from a ner_bert folder brings its ``ner_bert.json`` (aggregation,
        window length, document context) as a local folder does.

        Args:
            path_or_name: A local model directory or a Hugging Face hub name.
            device: Overrides ``config.device`` (``"cpu"``, ``"cuda"``, ...).
            precision: Overrides ``config.precision`` (``"auto"``, ``"fp32"``, ``"bf16"``,
                ``"fp16"``); with no ``config``, the saved aggregation is kept.
            labels: The IOB2 labels in id order, for checkpoints whose config has generic
                ``LABEL_0`` names (or to override the saved ones).
            config: Prediction options; without one, the aggregation saved in the model's
                ``ner_bert.json`` is used.
            trust_remote_code: Allow custom modeling code from the checkpoint.
            revision: Hub branch, tag or commit (hub names only, as the rest below).
            token: Hub token for private or gated models (``True``: the saved login).
            cache_dir: Hub cache folder instead of ``~/.cache/huggingface/hub``.
            local_files_only: Load from the cache only, never from the network.

        Raises:
            ModelLoadError: The directory, ``config.json``, the weights or the tokenizer is
                missing or unreadable (the message names the file), or a hub name cannot be
                fetched (not cached with ``local_files_only``, unknown revision, ...).
            LabelError: The labels are generic ``LABEL_<n>`` names or not IOB2.

        Example:
            >>> from ner_bert import NERPredictor
            >>> NERPredictor.from_pretrained("/no/such/model")
            Traceback (most recent call last):
            ...
            ner_bert.errors.ModelLoadError: /no/such/model: model directory not found; ...
        """
        hub = HubOptions(
            revision=revision, token=token, cache_dir=cache_dir, local_files_only=local_files_only
        )
        loaded = _load(path_or_name, labels, config, trust_remote_code, hub)
        if config is None:
            aggregation = loaded.metadata.get("aggregation", "first")
            config = PredictionConfig(aggregation=str(aggregation))
        overrides = {"device": device, "precision": precision}
        overrides = {key: value for key, value in overrides.items() if value is not None}
        if overrides:
            config = PredictionConfig.from_dict({**config.to_dict(), **overrides})
        return cls(
            loaded.model,
            loaded.tokenizer,
            loaded.labels,
            config=config,
            metadata=loaded.metadata,
            model_path=loaded.path,
        )

    def save(self, path: str | Path, *, overwrite: bool = False) -> None:
        """Write a loadable model directory: weights, tokenizer, config and ``ner_bert.json``.

        The directory is a plain Hugging Face checkpoint, so ``transformers.pipeline`` loads
        it too. A quantized predictor saves its original (unquantized) weights; an ONNX
        predictor writes a copy of its ONNX folder. The folder is
        written beside ``path`` and swapped in at the end: a kill leaves the old folder or
        the new one.

        Args:
            path: The model directory.
            overwrite: Replace an existing ner_bert model directory at ``path`` (never a
                folder that is not one).

        Raises:
            ConfigError: ``path`` exists and is not a ner_bert model directory, or is one and
                ``overwrite`` is off.
        """
        metadata = {**self._metadata, "aggregation": self.config.aggregation}
        if isinstance(self._saveable, OnnxModel):
            copy_onnx_folder(self._saveable.path, Path(path), metadata, overwrite=overwrite)
            return
        save_model(
            Path(path),
            self._saveable,
            self._tokenizer,
            self._labels,
            metadata,
            overwrite=overwrite,
        )

    def push_to_hub(
        self,
        repo_id: str,
        *,
        token: str | bool | None = None,
        private: bool | None = None,
        revision: str | None = None,
        commit_message: str | None = None,
        create_pr: bool = False,
    ) -> str:
        """Save the model and upload it to a Hub model repository (created if needed), with
        a model card naming ``repo_id``; :func:`ner_bert.push_to_hub` uploads a saved folder.

        Args:
            repo_id: The repository, ``"org/name"`` or ``"name"`` (under your user).
            token: Hub token (``None``: the saved login or ``HF_TOKEN``).
            private: Create the repository private (``None``: the Hub's default).
            revision: Branch to push to (default ``main``).
            commit_message: Default ``"Upload <name> with ner_bert"``.
            create_pr: Open a pull request instead of committing to the branch.

        Returns:
            The URL of the commit (or of the pull request with ``create_pr``).

        Raises:
            ConfigError: ``repo_id`` is empty.
            HubError: The Hub refused the push or cannot be reached.
        """
        with tempfile.TemporaryDirectory(prefix="ner_bert-push-") as tmp:
            folder = Path(tmp) / (repo_id.rstrip("/").split("/")[-1] or "model")
            self.save(folder)
            return push_to_hub(
                folder,
                repo_id,
                token=token,
                private=private,
                revision=revision,
                commit_message=commit_message,
                create_pr=create_pr,
            )


def _load(
    path_or_name: str | Path,
    labels: Sequence[str] | LabelSet | None,
    config: PredictionConfig | None,
    trust_remote_code: bool,
    hub: HubOptions,
) -> LoadedModel:
    """A torch model folder or hub name through :func:`load_model`; an ONNX export through
    ONNX Runtime, with torch's thread count unless the config sets one."""
    if not (looks_local(path_or_name) and is_onnx_folder(path_or_name)):
        return load_model(path_or_name, labels=labels, trust_remote_code=trust_remote_code, hub=hub)
    import torch

    threads = config.num_threads if config is not None else None
    model, tokenizer, label_set, metadata = load_onnx_model(
        path_or_name, labels=labels, num_threads=threads or torch.get_num_threads()
    )
    return LoadedModel(model, tokenizer, label_set, metadata, model.path)
