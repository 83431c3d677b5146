"""The :class:`NERPredictor` class (see the package documentation for the pipeline)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence, Sized
from pathlib import Path
from typing import Any, overload

import numpy as np

from ..config import PredictionConfig
from ..errors import ConfigError, InputTypeError
from ..labels import LabelSet
from ..model.device import precision_name, resolve_device, resolve_precision
from ..model.forward import Runner, SubwordScorer, TorchRunner, context_settings, quantize
from ..model.loading import window_length
from ..model.onnx_runtime import OnnxModel, OnnxRunner, check_onnx_options
from ..subwords.decoding import (
    char_entities,
    decode_many,
    parse_aggregation,
    parse_decoding,
    word_probabilities,
)
from ..subwords.encoding import Encoded, TextEncoder
from ..subwords.inputs import document_chunks
from ..subwords.segmentation import Segmentation, parse_segmentation, segment_sentences
from ..types import Entity, WordPrediction
from ._inputs import check_documents, check_string_lists, check_strings, progress_bar
from ._saving import SavedPredictorMixin

__all__ = ["NERPredictor"]

logger = logging.getLogger(__name__)

_CHUNK_BATCHES = 32
"""predict_stream sorts and batches this many batches' worth of texts at a time."""


class NERPredictor(SavedPredictorMixin):
    """Named-entity recognition with a token-classification model.

    Build it with :meth:`from_pretrained`. One predictor can be shared by several threads.

    Args:
        model: A ``transformers`` token-classification model (put in eval mode), or an
            ONNX export opened by :meth:`from_pretrained`.
        tokenizer: Its fast tokenizer.
        labels: The model's IOB2 labels, in id order.
        config: Prediction options.
        metadata: The model's ``ner_bert.json`` contents, if any.
        model_path: The local directory the model was loaded from, if any.

    Example:
        >>> predictor = NERPredictor.from_pretrained(tiny_model_dir)  # doctest: +SKIP
        >>> predictor.predict_text("John Smith lives in Paris.")  # doctest: +SKIP
        [Entity(label='PER', start=0, end=10, score=0.97, text='John Smith'), ...]
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        labels: LabelSet,
        *,
        config: PredictionConfig | None = None,
        metadata: dict[str, Any] | None = None,
        model_path: Path | None = None,
    ) -> None:
        import torch

        self.config = config or PredictionConfig()
        self._labels = labels
        self._metadata = dict(metadata or {})
        self._model_path = model_path
        n_out = getattr(model.config, "num_labels", len(labels))
        if n_out != len(labels):
            raise ConfigError(
                f"the model has {n_out} outputs but {len(labels)} labels were given "
                f"({list(labels.labels)}); pass one label per output."
            )
        if self.config.num_threads is not None:
            torch.set_num_threads(self.config.num_threads)
        self._saveable = model
        runner: Runner
        if isinstance(model, OnnxModel):
            check_onnx_options(self.config, model)
            self._device, self._precision = torch.device("cpu"), model.precision
            runner = OnnxRunner(model)
        else:
            self._device = resolve_device(self.config.device)
            dtype = resolve_precision(self.config.precision, self._device)
            self._precision = precision_name(dtype)
            model = model.to(self._device).eval()
            if self.config.quantize:  # a copy with int8 Linear layers
                runner = TorchRunner(
                    quantize(model, self._device), device=self._device, dtype=dtype
                )
            else:
                runner = TorchRunner.for_prediction(model, device=self._device, dtype=dtype)
        self._tokenizer = tokenizer
        self._aggregation = parse_aggregation(self.config.aggregation)
        self._decoding = parse_decoding(self.config.decoding)
        self._segmentation = parse_segmentation(self.config.segmentation)
        self._encoder = self._make_encoder(tokenizer, model.config)
        self._context_size, context_window = context_settings(
            self._metadata, self.config, self._encoder
        )
        if self._context_size and self.config.stride is None:
            # A context model reads a long text as it was trained: each subword is predicted
            # from a window where it has context_size subwords of context on each side.
            self._encoder.stride = max(1, context_window - 2 * self._context_size)
        self._scorer = SubwordScorer(
            runner,
            self._encoder,
            n_labels=len(labels),
            max_batch_tokens=self.config.max_batch_tokens,
            context_size=self._context_size,
            context_window=context_window,
        )
        logger.info(
            "NERPredictor: device=%s precision=%s window=%d stride=%d labels=%d context=%d",
            self._device,
            self._precision,
            self._encoder.window,
            self._encoder.stride,
            len(labels),
            self._context_size,
        )

    @property
    def labels(self) -> LabelSet:
        """The model's IOB2 labels."""
        return self._labels

    @property
    def model_path(self) -> Path | None:
        """The local directory the model was loaded from (``None`` for a hub name)."""
        return self._model_path

    @property
    def device(self) -> str:
        """The torch device the model runs on."""
        return str(self._device)

    @property
    def precision(self) -> str:
        """The precision actually used: ``"fp32"``, ``"bf16"``, ``"fp16"``, or ``"int8"`` for
        an int8 ONNX export."""
        return self._precision

    @property
    def context_size(self) -> int:
        """Subwords of document context on each side used by the document methods."""
        return self._context_size

    @property
    def max_length(self) -> int:
        """Window length in tokens, special tokens included."""
        return self._encoder.max_length

    # -- public prediction API --------------------------------------------------------------

    @overload  # a str is a Sequence[str] too; as in typeshed, the str overload comes first
    def __call__(  # type: ignore[overload-overlap]
        self, inputs: str, *, batch_size: int | None = None
    ) -> list[Entity]: ...

    @overload
    def __call__(
        self, inputs: Sequence[str], *, batch_size: int | None = None
    ) -> list[list[Entity]]: ...

    def __call__(
        self, inputs: str | Sequence[str], *, batch_size: int | None = None
    ) -> list[Entity] | list[list[Entity]]:
        """Find entities like a ``transformers`` pipeline: one text, or a list of texts.

        ``predictor(text)`` is :meth:`predict_text` and ``predictor(texts)`` is :meth:`predict`
        (the result's shape follows the input's, as a pipeline's does).

        Example:
            >>> predictor("John lives in Paris.")  # doctest: +SKIP
            [Entity(label='PER', start=0, end=4, text='John', score=0.99), ...]
        """
        if isinstance(inputs, str):
            return self.predict([inputs], batch_size=batch_size)[0]
        return self.predict(inputs, batch_size=batch_size)

    def predict(self, texts: Sequence[str], *, batch_size: int | None = None) -> list[list[Entity]]:
        """Find the entities of each text.

        Args:
            texts: Raw texts, of any length (long ones are windowed, never truncated). Each is
                cut into treebank words and read sentence by sentence as one document
                (``config.segmentation``; see the concepts page, "Raw text").
            batch_size: Overrides ``config.batch_size``.

        Returns:
            One list of entities per text, in text order, each sorted by offset.

        Raises:
            InputTypeError: ``texts`` is a single string, or an item is not a string (the message
                names the index).
            DataFormatError: An item holds a lone surrogate (the message names its index).
        """
        if isinstance(texts, str):
            raise InputTypeError("predict() takes a sequence of strings; use predict_text(text).")
        return list(
            self.predict_stream(texts, batch_size=batch_size, progress=self.config.progress_bar)
        )

    def predict_text(self, text: str) -> list[Entity]:
        """Find the entities of one text (see :meth:`predict`)."""
        if not isinstance(text, str):
            raise InputTypeError(f"predict_text() takes a str, got {type(text).__name__}.")
        return self.predict([text])[0]

    def predict_stream(
        self,
        texts: Iterable[str],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        total: int | None = None,
    ) -> Iterator[list[Entity]]:
        """Lazily find the entities of a stream of texts (constant memory for large corpora).

        Texts are read in chunks, sorted by length within a chunk, and results come out in
        input order.

        Args:
            texts: Any iterable of strings.
            batch_size: Overrides ``config.batch_size``.
            progress: Show a tqdm progress bar (texts done, and with a total the time left).
            total: How many texts there are, for the bar's time left; ``len(texts)`` when
                ``texts`` has a length.

        Raises:
            InputTypeError: An item is not a string (the message names its index).
            DataFormatError: An item holds a lone surrogate (the message names its index).
        """
        if isinstance(texts, str):
            raise InputTypeError("predict_stream() takes an iterable of strings, not one string.")
        size = self._batch_size(batch_size)
        if total is None and isinstance(texts, Sized):
            total = len(texts)
        bar = progress_bar(progress, total=total)
        iterator = iter(texts)
        offset = 0
        try:
            while chunk := list(itertools.islice(iterator, size * _CHUNK_BATCHES)):
                check_strings(chunk, offset, "texts")
                offset += len(chunk)
                yield from self._predict_chunk(chunk, size)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()

    def predict_words(
        self,
        sentences: Sequence[Sequence[str]],
        *,
        documents: Sequence[int] | None = None,
        batch_size: int | None = None,
    ) -> list[list[WordPrediction]]:
        """Tag pre-tokenized sentences: one IOB2 tag and score per given word.

        Every word gets a prediction, in order: a word the tokenizer turns into no subword
        (e.g. a lone zero-width character) is tagged ``"O"`` with score 1.0. Long sentences
        are windowed like long texts.

        Args:
            sentences: Sentences as sequences of words.
            documents: Document id of each sentence. With a model trained with document
                context (:attr:`context_size` > 0), consecutive sentences with the same id are
                read with each other as context (see :meth:`predict_documents`); a different
                id is a document boundary that no context crosses. ``None``: every sentence is
                its own document.
            batch_size: Overrides ``config.batch_size``.

        Raises:
            InputTypeError: ``sentences`` or a sentence is a string, or a word is not a string
                (the message names the indices).
            DataFormatError: A word holds a lone surrogate (the message names the indices).
            ConfigError: ``documents`` does not have one id per sentence.

        Example:
            >>> predictor = NERPredictor.from_pretrained("my-ner-model")  # doctest: +SKIP
            >>> [p.tag for p in predictor.predict_words([["John", "visited", "Paris"]])[0]]
            ... # doctest: +SKIP
            ['B-PER', 'O', 'B-LOC']
        """
        if isinstance(sentences, str):
            raise InputTypeError(
                "predict_words() takes a sequence of word sequences, not a string."
            )
        check_string_lists(sentences, "sentences", "words such as ['John', 'lives', 'here']")
        size = self._batch_size(batch_size)
        if documents is not None:
            check_documents(documents, len(sentences))
        out: list[list[WordPrediction]] = []
        # About size * _CHUNK_BATCHES sentences at a time (memory), whole documents only.
        ids = range(len(sentences)) if documents is None else documents
        for lo, hi in document_chunks(ids, size * _CHUNK_BATCHES):
            encoded = self._encoder.encode_words(sentences[lo:hi])
            probs = self._scorer.probabilities(
                encoded, size, documents=None if documents is None else documents[lo:hi]
            )
            for tags, scores in self._decode(encoded, probs):
                out.append(
                    [WordPrediction(tag, score) for tag, score in zip(tags, scores, strict=True)]
                )
        return out

    def predict_documents(
        self, documents: Sequence[Sequence[str]], *, batch_size: int | None = None
    ) -> list[list[list[Entity]]]:
        """Find the entities of documents given as lists of sentences, using document context.

        A model trained with ``context_size > 0`` reads each sentence with up to that many
        subwords of its document on each side (packed as in training); a sentence-level model
        predicts each sentence alone. Context never crosses from one document to another.

        Args:
            documents: Each document is a sequence of raw sentence strings.
            batch_size: Overrides ``config.batch_size``.

        Returns:
            For each document, one list of entities per sentence, with offsets into that
            sentence string (``entity.text == sentence[entity.start:entity.end]``).

        Raises:
            InputTypeError: ``documents`` or a document is a string, or a sentence is not a
                string.
            DataFormatError: A sentence holds a lone surrogate (the message names it).

        Example:
            >>> predictor = NERPredictor.from_pretrained("my-ner-model")  # doctest: +SKIP
            >>> doc = ["John visited Paris.", "He met Mary there."]
            >>> [[e.text for e in s] for s in predictor.predict_documents([doc])[0]]
            ... # doctest: +SKIP
            [['John', 'Paris'], ['Mary']]
        """
        if isinstance(documents, str):
            raise InputTypeError(
                "predict_documents() takes a sequence of documents (lists of str)."
            )
        sentences: list[str] = []
        ids: list[int] = []
        check_string_lists(
            documents, "documents", "sentence strings such as ['John lives here.', 'He likes it.']"
        )
        for index, document in enumerate(documents):
            sentences += document
            ids += [index] * len(document)
        size = self._batch_size(batch_size)
        encoded = self._encoder.encode_texts(sentences, segmentation=self._segmentation)
        probs = self._scorer.probabilities(encoded, size, documents=ids)
        flat = self._entities(sentences, encoded, probs)
        out: list[list[list[Entity]]] = []
        position = 0
        for document in documents:
            out.append(flat[position : position + len(document)])
            position += len(document)
        return out

    # -- internals ------------------------------------------------------------------------------

    def _make_encoder(self, tokenizer: Any, model_config: Any) -> TextEncoder:
        requested = self.config.max_length
        trained = self._metadata.get("max_length")
        if requested is None and self._metadata.get("context_size") and isinstance(trained, int):
            requested = trained  # a context model reads inputs of the length it trained on
        max_length = window_length(requested, tokenizer, model_config)
        encoder = TextEncoder(tokenizer, max_length=max_length)
        if self.config.stride is not None:
            if self.config.stride > encoder.window:
                raise ConfigError(
                    f"stride must be <= {encoder.window} (the subwords in a window of "
                    f"{max_length}), got {self.config.stride}."
                )
            encoder.stride = self.config.stride
        return encoder

    def _batch_size(self, batch_size: int | None) -> int:
        if batch_size is None:
            return self.config.batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
        return batch_size

    def _predict_chunk(self, texts: list[str], batch_size: int) -> list[list[Entity]]:
        if self._segmentation is Segmentation.TOKENIZER:
            encoded = self._encoder.encode_texts(texts, segmentation=self._segmentation)
            probs = self._scorer.probabilities(encoded, batch_size)
            return self._entities(texts, encoded, probs)
        # Treebank words, read sentence by sentence as the model was trained: each text is a
        # document of sentences (a context model reads each with its neighbours as context).
        owners: list[int] = []
        sentences: list[list[tuple[int, int]]] = []
        for index, text in enumerate(texts):
            found = segment_sentences(text)
            owners += [index] * len(found)
            sentences += found
        owned = [texts[i] for i in owners]
        encoded = self._encoder.encode_spans(owned, sentences)
        probs = self._scorer.probabilities(encoded, batch_size, documents=owners)
        out: list[list[Entity]] = [[] for _ in texts]
        for owner, entities in zip(owners, self._entities(owned, encoded, probs), strict=True):
            out[owner] += entities
        return out

    def _entities(
        self, texts: Sequence[str], encoded: Sequence[Encoded], probs: Sequence[np.ndarray]
    ) -> list[list[Entity]]:
        """The entities of each encoded text (or sentence of a text), in order."""
        decoded = self._decode(encoded, probs)
        return [
            char_entities(text, enc.word_spans, tags, scores)
            for text, enc, (tags, scores) in zip(texts, encoded, decoded, strict=True)
        ]

    def _decode(
        self, encoded: Sequence[Encoded], probs: Sequence[np.ndarray]
    ) -> list[tuple[list[str], list[float]]]:
        """Tags and scores of every input's words, decoded together (batched Viterbi)."""
        empty = np.zeros((0, len(self._labels)))
        word_probs = [
            word_probabilities(p, e.word_ids, e.n_words, self._aggregation) if e.n_words else empty
            for e, p in zip(encoded, probs, strict=True)
        ]
        return decode_many(word_probs, self._labels, decoding=self._decoding)
