"""The ``ner_bert`` spaCy component: a fine-tuned ner_bert model as a pipeline step.

spaCy finds the factory through the ``spacy_factories`` entry point, so neither
``nlp.add_pipe("ner_bert", ...)`` nor ``spacy.load(path)`` needs ``import ner_bert``. The
module itself imports no torch: torch comes with the model, when it is loaded (see below).

What the component does with a doc:

* It reads the doc's **text** as ``NERPredictor.predict`` reads raw text (``words = "text"``,
  the default: the treebank words of NER corpora, so ``Soviet-imposed``, which spaCy splits
  into three tokens, is one word as in training) and maps each entity onto the doc's tokens;
  an entity that starts or ends inside a token takes the whole token. ``words = "tokens"``
  reads spaCy's tokens as the words instead (``NERPredictor.predict_words``), for a model
  fine-tuned on spaCy-tokenized data. Either way every entity starts and ends on a token
  boundary. Whitespace-only tokens (``"\\n\\n"``, extra spaces) are not shown to the model
  and count as ``O``; a mention whose words are separated by one covers it.
* When the doc has sentence boundaries (a ``parser`` or ``senter`` earlier in the pipeline,
  or ``sent_starts`` set by hand), each sentence is predicted as a sentence, the way the model
  was trained, with the doc's other sentences as context if the model was trained with
  document context (``context_size``); entities then never cross a sentence boundary.
  Without boundaries the doc is read as one sequence (long docs in overlapping windows).
* Predictions go into ``doc.ents`` according to the ``policy`` (see :class:`EntsPolicy`), and,
  if ``spans_key`` is set, all of them, with their scores, into ``doc.spans[spans_key]``
  (``doc.spans[key].attrs["scores"]`` holds one float per span).
* Each predicted span's score (the mean of its words' scores) is ``span._.ner_bert_score``
  (``None`` for spans the component did not predict). The value lives in ``doc.user_data``,
  so it survives ``Doc.to_bytes``/``from_bytes``, ``DocBin(store_user_data=True)`` and
  ``nlp.pipe(..., n_process=2)``.
* A prediction that cannot go into ``doc.ents`` (it overlaps an entity the policy keeps) is
  logged as a warning with its text, never dropped silently.

Example configuration (``config.cfg``)::

    [components.ner_bert]
    factory = "ner_bert"
    model = "models/my-ner"   # a ner_bert/Hugging Face model directory or hub name
    batch_size = 64           # sequences (or windows of long docs) per forward pass
    aggregation = null        # first | average | max; null: the one saved with the model
    device = null             # "cpu", "cuda", "cuda:1"; null picks cuda when available
    policy = "keep"           # keep | overwrite | replace_overlapping | spans_only
    spans_key = null          # e.g. "ner_bert": every prediction also in doc.spans[key]
    labels = null             # real tag names for a model whose config has LABEL_0 ...
    words = "text"            # text: ner_bert's words of the text | tokens: spaCy's tokens

The model is loaded lazily, as in spacy-transformers: creating the component (``add_pipe``,
or ``spacy.load`` building the pipeline) only checks the settings, and the model loads at
``nlp.initialize()``, ``from_disk``/``from_bytes`` (the copy saved with the pipeline) or the
first doc. A wrong ``model`` is a :class:`~ner_bert.errors.ModelLoadError` naming the component
then; an empty one a :class:`~ner_bert.errors.ConfigError` at once. ``nlp.to_disk`` makes a
self-contained folder, and ``nlp.pipe(..., n_process=k)`` runs each forked worker on one torch
thread. The spaCy guide (``docs/spacy.rst``) has the details.
"""

import itertools
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spacy.language import Language
from spacy.scorer import get_ner_prf
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import SimpleFrozenList

from ..errors import ConfigError, ModelLoadError
from ..subwords.decoding import parse_aggregation
from ._loading import (
    ADD_PIPE_HINT,
    MODEL_DIR,
    load_predictor,
    model_location,
    pack_model,
    unpack_model,
)
from ._placement import (
    SCORE_EXTENSION,
    EntsPolicy,
    describe_unplaced,
    parse_policy,
    place_spans,
    register_score_extension,
)
from ._prediction import parse_word_source, predict_spans
from .rendering import add_label_colors

if TYPE_CHECKING:  # pragma: no cover
    from ..prediction import NERPredictor

__all__ = ["SCORE_EXTENSION", "EntsPolicy", "NerBertComponent", "make_ner_bert"]

logger = logging.getLogger(__name__)


class NerBertComponent:
    """Named-entity recognition with a ner_bert model as a spaCy pipeline component.

    Create it with ``nlp.add_pipe("ner_bert", config={...})``; see the module documentation
    for the settings, what the component writes, and when it loads its model (lazily: at
    ``nlp.initialize()``, ``from_disk``/``from_bytes`` or the first doc).

    Example:
        >>> import spacy  # doctest: +SKIP
        >>> nlp = spacy.blank("en")  # doctest: +SKIP
        >>> nlp.add_pipe("ner_bert", config={"model": "models/my-ner"})  # doctest: +SKIP
        >>> doc = nlp("Ada Lovelace lived in London.")  # doctest: +SKIP
        >>> [(e.text, e.label_, round(e._.ner_bert_score, 2)) for e in doc.ents]  # doctest: +SKIP
        [('Ada Lovelace', 'PER', 0.99), ('London', 'LOC', 0.98)]
    """

    def __init__(
        self,
        nlp: Language | None,
        name: str = "ner_bert",
        *,
        model: str,
        batch_size: int = 64,
        aggregation: str | None = None,
        device: str | None = None,
        policy: str = "keep",
        spans_key: str | None = None,
        labels: list[str] | None = None,
        words: str = "text",
        scorer: Callable[..., dict[str, Any]] | None = get_ner_prf,
    ) -> None:
        self.name = name
        self.model = str(model) if model is not None else ""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(
                f"ner_bert component {name!r}: batch_size must be an integer >= 1, "
                f"got {batch_size!r}."
            )
        self.batch_size = batch_size
        self.aggregation = parse_aggregation(aggregation).value if aggregation else None
        self.device = device or None
        self.policy = parse_policy(policy)
        self.spans_key = spans_key or None
        self.words = parse_word_source(words)
        if self.policy is EntsPolicy.SPANS_ONLY and self.spans_key is None:
            raise ConfigError(
                f"ner_bert component {name!r}: policy 'spans_only' writes predictions only to "
                'doc.spans[spans_key], but spans_key is not set; add e.g. "spans_key": '
                '"ner_bert" to the config, or choose another policy.'
            )
        if not self.model.strip():
            raise ConfigError(
                f"ner_bert component {name!r}: no model given; name a ner_bert model "
                f"directory or hub name: {ADD_PIPE_HINT}."
            )
        self.label_names = list(labels) if labels else None
        self.scorer = scorer
        # Not loaded here: spacy.load creates the component from its config before from_disk
        # loads the saved copy, and the original model may be gone by then.
        self._location = model_location(self.model)
        self._predictor: NERPredictor | None = None
        self._load_lock = threading.Lock()
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._pid = os.getpid()
        register_score_extension()

    # -- model -------------------------------------------------------------------------

    def _load(self, location: "str | Path") -> "NERPredictor":
        predictor = load_predictor(
            location,
            component=self.name,
            aggregation=self.aggregation,
            batch_size=self.batch_size,
            device=self.device,
            labels=self.label_names,
        )
        add_label_colors(predictor.labels.entity_types)  # for displacy.render
        return predictor

    @property
    def predictor(self) -> "NERPredictor":
        """The :class:`~ner_bert.prediction.NERPredictor`; the first access loads ``model``
        (unless a model is loaded already, e.g. by ``from_disk``)."""
        if self._predictor is None:
            with self._load_lock:  # two threads' first docs load the model once
                if self._predictor is None:
                    self._predictor = self._load(self._location)
        return self._predictor

    @property
    def labels(self) -> tuple[str, ...]:
        """The entity types of the model; empty until the model is loaded.

        Reading it never loads the model: spaCy reads ``labels`` for ``nlp.meta``, and
        ``spacy.load`` does so before ``from_disk`` has loaded the saved copy (the ``model``
        setting may name a folder that no longer exists). After ``nlp.initialize()`` or the
        first doc the labels are there.
        """
        if self._predictor is None:
            return ()
        return tuple(self._predictor.labels.entity_types)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]] | None = None,
        *,
        nlp: Language | None = None,
    ) -> None:
        """Load the model if none is loaded yet (``nlp.initialize()``, or called on the
        component alone); no training. A loaded model (e.g. by ``from_disk``) is kept."""
        _ = self.predictor

    def update(self, examples: Iterable[Example], **kwargs: Any) -> dict[str, float]:
        """Refuse spaCy training: ``nlp.update`` and ``spacy train`` do not fine-tune this
        component (they would run to the end with its score where it started).

        Fine-tune with ner_bert on the same ``.spacy`` corpus, then add the trained folder:
        ``ner-bert train --model bert-base-cased --train train.spacy --dev dev.spacy
        --output my-ner``. In ``spacy train``, list the component under
        ``[training] frozen_components`` (or annotating_components) to keep it as it is.

        Raises:
            ConfigError: Always.
        """
        raise ConfigError(
            "the ner_bert component is not trained by nlp.update / spacy train (it would stay "
            "as it is); fine-tune it on the same corpus with `ner-bert train --model "
            "<encoder> --train train.spacy --dev dev.spacy --output <folder>` (or "
            "NERTrainer with ner_bert.spacy.docbin.read_docbin), then set the component's "
            "model to <folder>. To keep it in a spaCy training config, list it under "
            "[training] frozen_components."
        )

    # -- prediction --------------------------------------------------------------------

    def __call__(self, doc: Doc) -> Doc:
        """Annotate one doc (through :meth:`pipe`); the first doc loads the model if needed."""
        for out in self.pipe([doc], batch_size=1):
            return out
        return doc  # pragma: no cover - pipe yields every doc it gets

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Annotate docs, ``batch_size`` docs at a time in one model call.

        Within a group the model sees the docs' token sequences sorted by length, in batches of
        the component's ``batch_size`` sequences; docs longer than the model's window are
        split into overlapping windows, never truncated.
        """
        if batch_size < 1:
            raise ConfigError(f"ner_bert component: batch_size must be >= 1, got {batch_size}.")
        self._guard_forked_process()
        stream = iter(stream)
        while docs := list(itertools.islice(stream, batch_size)):
            self._annotate(docs)
            yield from docs

    def _guard_forked_process(self) -> None:
        """In a forked worker (``nlp.pipe(..., n_process=k)``), run torch on one thread.

        A process forked after torch used its OpenMP thread pool inherits a pool whose threads
        do not exist in the child, and the first multi-threaded operation hangs forever. So
        each worker uses one thread: ``n_process=k`` uses ``k`` cores.
        """
        pid = os.getpid()
        if pid == self._pid:
            return
        self._pid = pid
        import torch

        if torch.get_num_threads() > 1:
            logger.info(
                "ner_bert component %r: forked worker process %d runs torch on 1 thread "
                "(forked processes cannot use the parent's thread pool).",
                self.name,
                pid,
            )
            torch.set_num_threads(1)

    def _annotate(self, docs: list[Doc]) -> None:
        """Predict on the docs and place the spans; log what the policy left out."""
        predictions = predict_spans(
            self.predictor, docs, batch_size=self.batch_size, words=self.words
        )
        for doc, predicted in zip(docs, predictions, strict=True):
            unplaced = place_spans(doc, predicted, policy=self.policy, spans_key=self.spans_key)
            if unplaced:
                logger.warning(
                    "ner_bert component %r: %s",
                    self.name,
                    describe_unplaced(unplaced, spans_key=self.spans_key),
                )

    # -- scoring -----------------------------------------------------------------------

    def score(self, examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        """Score ``doc.ents`` against the references: ``ents_p/r/f`` and ``ents_per_type``."""
        if self.scorer is None:
            return {}
        return self.scorer(examples, **kwargs)

    # -- serialization -----------------------------------------------------------------

    def to_disk(self, path: "str | Path", *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        """Save the model into ``path/model`` (weights, tokenizer, config, ``ner_bert.json``),
        loading it first if it is not loaded: the folder always holds the model."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.predictor.save(path / MODEL_DIR, overwrite=True)  # spaCy's to_disk replaces

    def from_disk(
        self, path: "str | Path", *, exclude: Iterable[str] = SimpleFrozenList()
    ) -> "NerBertComponent":
        """Load the model saved by :meth:`to_disk` in ``path``; returns ``self``.

        The ``model`` setting is not read: this is how ``spacy.load`` works on a machine
        without the original model.
        """
        model_dir = Path(path) / MODEL_DIR
        if not model_dir.is_dir():
            raise ModelLoadError(
                f"ner_bert component {self.name!r}: {model_dir} does not exist; the pipeline "
                "folder is incomplete (save it again with nlp.to_disk)."
            )
        self._predictor = self._load(model_dir)
        self._tmpdir = None  # files of an earlier from_bytes are no longer needed
        return self

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        """Serialize the model directory as ``{"model": {relative path: bytes}}`` (msgpack),
        loading the model first if it is not loaded."""
        return pack_model(self.predictor)

    def from_bytes(
        self, bytes_data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()
    ) -> "NerBertComponent":
        """Load a model serialized by :meth:`to_bytes`; returns ``self``."""
        tmpdir = unpack_model(bytes_data, component=self.name)
        self._predictor = self._load(Path(tmpdir.name))
        self._tmpdir = tmpdir  # the files live as long as the component
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling (e.g. multiprocessing with the "spawn" start method) goes through to_bytes
        # when a model is loaded; a component that has not loaded one stays lazy.
        settings = {
            "model": self.model,
            "batch_size": self.batch_size,
            "aggregation": self.aggregation,
            "device": self.device,
            "policy": self.policy.value,
            "spans_key": self.spans_key,
            "labels": self.label_names,
            "words": self.words.value,
            "scorer": self.scorer,
        }
        data = self.to_bytes() if self._predictor is not None else None
        return (_unpickle, (self.name, settings, data))


def _unpickle(name: str, settings: dict[str, Any], data: bytes | None) -> NerBertComponent:
    component = NerBertComponent(None, name, **settings)
    return component if data is None else component.from_bytes(data)


@Language.factory(
    "ner_bert",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "span._.ner_bert_score"],
    default_config={
        "model": "",
        "batch_size": 64,
        "aggregation": None,
        "device": None,
        "policy": "keep",
        "spans_key": None,
        "labels": None,
        "words": "text",
        "scorer": {"@scorers": "spacy.ner_scorer.v1"},
    },
    default_score_weights={
        "ents_f": 1.0,
        "ents_p": 0.0,
        "ents_r": 0.0,
        "ents_per_type": None,
    },
)
def make_ner_bert(
    nlp: Language,
    name: str,
    model: str,
    batch_size: int,
    aggregation: str | None,
    device: str | None,
    policy: str,
    spans_key: str | None,
    labels: list[str] | None,
    words: str,
    scorer: Callable[..., dict[str, Any]] | None,
) -> NerBertComponent:
    """Create the ``ner_bert`` component (called by ``nlp.add_pipe("ner_bert", config=...)``
    and by ``spacy.load``).

    Only the settings are checked here; the model is loaded at ``nlp.initialize()``,
    ``from_disk``/``from_bytes`` or the first doc, whichever comes first.
    """
    return NerBertComponent(
        nlp,
        name,
        model=model,
        batch_size=batch_size,
        aggregation=aggregation,
        device=device,
        policy=policy,
        spans_key=spans_key,
        labels=labels,
        words=words,
        scorer=scorer,
    )
