"""The ``ner_bert`` spaCy component: a fine-tuned ner_bert model as a pipeline step.

This is the only module of ner_bert that imports spaCy. spaCy finds the factory through the
``spacy_factories`` entry point, so neither ``nlp.add_pipe("ner_bert", ...)`` nor
``spacy.load(path)`` needs ``import ner_bert``. The module itself imports no torch: the model
is loaded (and torch imported) when the component is created.

What the component does with a doc:

* It predicts on **spaCy's own tokens** (``NERPredictor.predict_words``), so every entity
  starts and ends on a token boundary and no prediction is lost to misaligned character
  offsets. Whitespace-only tokens (``"\\n\\n"``, extra spaces) are not shown to the model and
  count as ``O``; a mention whose words are separated by one covers it.
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

Serialization: ``nlp.to_disk(path)`` writes the model (weights, tokenizer, config,
``ner_bert.json``) into ``path/<component name>/model``; ``spacy.load(path)`` loads that
copy, so the pipeline folder is self-contained and works on another machine with no network.
The ``model`` setting keeps naming the original; it is only read when the component is
created with ``nlp.add_pipe`` (a missing model is an error right there) or, for a pipeline
built from a config without saved weights, at ``nlp.initialize()`` or the first doc.

Multiprocessing: ``nlp.pipe(texts, n_process=2, batch_size=64)`` works. spaCy forks the
worker processes, and a process forked after torch has used its thread pool hangs on its
first multi-threaded operation, so each worker runs torch on **one thread** (the component
sets this in the worker, the parent keeps its setting). ``n_process=k`` thus uses ``k``
cores: on a 4-core machine use ``n_process=4``, or ``n_process=1`` (the default), which uses
all cores through torch's own threads and is usually as fast. On a GPU, use one process and a
larger ``batch_size``: CUDA cannot be used in forked processes.
"""

import itertools
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import srsly
from spacy.language import Language
from spacy.scorer import get_ner_prf
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import SimpleFrozenList

from .choices import parse_choice
from .errors import ConfigError, ModelLoadError
from .labels import tags_to_spans

if TYPE_CHECKING:  # pragma: no cover
    from .prediction import NERPredictor

__all__ = ["SCORE_EXTENSION", "EntsPolicy", "NerBertComponent", "make_ner_bert"]

logger = logging.getLogger(__name__)

SCORE_EXTENSION = "ner_bert_score"
"""Name of the span extension holding a predicted span's score: ``span._.ner_bert_score``."""

MODEL_DIR = "model"
"""Sub-folder of the component's folder in a saved pipeline that holds the model."""

_ADD_PIPE_HINT = (
    'nlp.add_pipe("ner_bert", config={"model": "path/to/model"}), or in config.cfg: '
    '[components.ner_bert] model = "path/to/model"'
)


class EntsPolicy(str, Enum):
    """What happens to entities already in ``doc.ents`` (from earlier components).

    * ``keep`` (default): existing entities stay; a prediction is added where it overlaps
      none of them, otherwise it is logged (and kept in ``doc.spans[spans_key]`` if set).
    * ``overwrite``: ``doc.ents`` becomes the predictions alone; existing entities are removed.
    * ``replace_overlapping``: predictions win; existing entities that overlap a prediction
      are removed, the others stay.
    * ``spans_only``: ``doc.ents`` is not touched; predictions go only to
      ``doc.spans[spans_key]`` (``spans_key`` is required).
    """

    KEEP = "keep"
    OVERWRITE = "overwrite"
    REPLACE_OVERLAPPING = "replace_overlapping"
    SPANS_ONLY = "spans_only"


def parse_policy(value: "EntsPolicy | str") -> EntsPolicy:
    """Parse a policy name; the error lists the choices.

    Example:
        >>> parse_policy("overwrite")
        <EntsPolicy.OVERWRITE: 'overwrite'>
    """
    return parse_choice(EntsPolicy, "policy", value, where="ner_bert component: ")


def _register_extensions() -> None:
    if not Span.has_extension(SCORE_EXTENSION):
        Span.set_extension(SCORE_EXTENSION, default=None)


def _inside_from_config() -> bool:
    """Whether the caller runs inside ``Language.from_config`` (``spacy.load``, ``spacy.blank``).

    There the component is created from a config and then either loaded with ``from_disk``
    or set up with ``initialize``: the original ``model`` may not be reachable (the pipeline
    was moved to another machine), so the model must not be loaded at construction.
    """
    target = Language.__dict__["from_config"].__func__.__code__
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is target:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


class NerBertComponent:
    """Named-entity recognition with a ner_bert model as a spaCy pipeline component.

    Create it with ``nlp.add_pipe("ner_bert", config={...})``; see the module documentation
    for the settings and what the component writes.

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
        scorer: Callable[..., dict[str, Any]] | None = get_ner_prf,
        load: bool = True,
    ) -> None:
        from .aggregation import parse_aggregation

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
        if self.policy is EntsPolicy.SPANS_ONLY and self.spans_key is None:
            raise ConfigError(
                f"ner_bert component {name!r}: policy 'spans_only' writes predictions only to "
                'doc.spans[spans_key], but spans_key is not set; add e.g. "spans_key": '
                '"ner_bert" to the config, or choose another policy.'
            )
        self.label_names = list(labels) if labels else None
        self.scorer = scorer
        self._predictor: NERPredictor | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._pid = os.getpid()
        _register_extensions()
        if load:
            if not self.model.strip():
                raise ConfigError(
                    f"ner_bert component {name!r}: no model given; name a ner_bert model "
                    f"directory or hub name: {_ADD_PIPE_HINT}."
                )
            self._predictor = self._load(self.model)

    # -- model -------------------------------------------------------------------------

    def _load(self, path_or_name: "str | Path") -> "NERPredictor":
        from .config import PredictionConfig
        from .prediction import NERPredictor

        location = str(path_or_name)
        local = Path(location).expanduser()
        looks_local = local.exists() or location.startswith((".", "/", "~")) or "\\" in location
        if looks_local and not local.is_dir():
            raise ModelLoadError(
                f"ner_bert component {self.name!r}: model {location!r} is not a directory "
                "(it does not exist, or it is a file); give the folder a ner_bert model was "
                f"saved to, e.g. {_ADD_PIPE_HINT}."
            )
        config = None
        if self.aggregation is not None:
            config = PredictionConfig(aggregation=self.aggregation, batch_size=self.batch_size)
        try:
            return NERPredictor.from_pretrained(
                local if looks_local else location,
                device=self.device,
                labels=self.label_names,
                config=config,
            )
        except ModelLoadError as exc:
            if looks_local:
                raise
            raise ModelLoadError(
                f"ner_bert component {self.name!r}: model {location!r} is not a local folder "
                f"(none at {local.absolute()}) and did not load as a hub name: {exc}"
            ) from exc

    @property
    def predictor(self) -> "NERPredictor":
        """The :class:`~ner_bert.prediction.NERPredictor`, loaded from ``model`` if needed."""
        if self._predictor is None:
            if not self.model.strip():
                raise ConfigError(
                    f"ner_bert component {self.name!r}: no model loaded and no model given; "
                    f"set one: {_ADD_PIPE_HINT}."
                )
            self._predictor = self._load(self.model)
        return self._predictor

    @property
    def labels(self) -> tuple[str, ...]:
        """The entity types of the model (empty until the model is loaded)."""
        if self._predictor is None:
            return ()
        return tuple(self._predictor.labels.entity_types)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]] | None = None,
        *,
        nlp: Language | None = None,
    ) -> None:
        """Load the model if it is not loaded yet (``nlp.initialize()``); no training."""
        _ = self.predictor

    # -- prediction --------------------------------------------------------------------

    def __call__(self, doc: Doc) -> Doc:
        """Annotate one doc (through :meth:`pipe`)."""
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
        """Predict on each doc's non-space tokens: per sentence when the doc has sentence
        boundaries (with the other sentences as context if the model was trained with it),
        else the whole doc as one sequence."""
        predictor = self.predictor
        units: list[tuple[int, list[int]]] = []  # (doc index, token indices)
        for i, doc in enumerate(docs):
            parts = doc.sents if doc.has_annotation("SENT_START") else [doc[:]]
            for part in parts:
                ids = [token.i for token in part if not token.is_space]
                if ids:
                    units.append((i, ids))
        words = [[docs[i][t].text for t in ids] for i, ids in units]
        predictions = (
            predictor.predict_words(
                words, documents=[i for i, _ in units], batch_size=self.batch_size
            )
            if words
            else []
        )
        by_doc: dict[int, list[tuple[Span, float]]] = {}
        for (i, ids), preds in zip(units, predictions, strict=True):
            spans = by_doc.setdefault(i, [])
            for mention in tags_to_spans([p.tag for p in preds]):
                scores = [p.score for p in preds[mention.start : mention.end]]
                span = Span(
                    docs[i], ids[mention.start], ids[mention.end - 1] + 1, label=mention.label
                )
                spans.append((span, float(sum(scores) / len(scores))))
        for i, doc in enumerate(docs):
            self._set_annotations(doc, by_doc.get(i, []))

    def _set_annotations(self, doc: Doc, predicted: list[tuple[Span, float]]) -> None:
        for span, score in predicted:
            span._.set(SCORE_EXTENSION, score)
        if self.spans_key is not None:
            doc.spans[self.spans_key] = [span for span, _ in predicted]
            doc.spans[self.spans_key].attrs["scores"] = [score for _, score in predicted]
        ours = [span for span, _ in predicted]
        if self.policy is EntsPolicy.SPANS_ONLY:
            return
        existing = list(doc.ents)
        if self.policy is EntsPolicy.OVERWRITE or not existing:
            doc.ents = ours
            return
        if self.policy is EntsPolicy.REPLACE_OVERLAPPING:
            taken = _token_set(ours)
            kept = [e for e in existing if taken.isdisjoint(range(e.start, e.end))]
            doc.ents = sorted(kept + ours, key=lambda s: s.start)
            return
        taken = _token_set(existing)
        present = {(e.start, e.end, e.label) for e in existing}
        placed, unplaced = [], []
        for span in ours:
            if taken.isdisjoint(range(span.start, span.end)):
                placed.append(span)
            elif (span.start, span.end, span.label) not in present:  # not already there
                unplaced.append(span)
        if unplaced:
            self._warn_unplaced(unplaced)
        doc.ents = sorted(existing + placed, key=lambda s: s.start)

    def _warn_unplaced(self, spans: list[Span]) -> None:
        shown = "; ".join(
            f"{s.text!r} {s.label_} [{s.start_char}:{s.end_char}]" for s in spans[:20]
        )
        more = f" (and {len(spans) - 20} more)" if len(spans) > 20 else ""
        where = (
            f"they are in doc.spans[{self.spans_key!r}]"
            if self.spans_key is not None
            else 'set "spans_key" to keep every prediction'
        )
        logger.warning(
            "ner_bert component %r: %d prediction(s) overlap entities already in doc.ents and "
            "were not added (policy 'keep'; %s; policy 'replace_overlapping' makes ours win): "
            "%s%s",
            self.name,
            len(spans),
            where,
            shown,
            more,
        )

    # -- scoring -----------------------------------------------------------------------

    def score(self, examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        """Score ``doc.ents`` against the references: ``ents_p/r/f`` and ``ents_per_type``."""
        if self.scorer is None:
            return {}
        return self.scorer(examples, **kwargs)

    # -- serialization -----------------------------------------------------------------

    def to_disk(self, path: "str | Path", *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        """Save the model into ``path/model`` (weights, tokenizer, config, ``ner_bert.json``)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.predictor.save(path / MODEL_DIR)

    def from_disk(
        self, path: "str | Path", *, exclude: Iterable[str] = SimpleFrozenList()
    ) -> "NerBertComponent":
        """Load the model saved by :meth:`to_disk` in ``path``; returns ``self``."""
        model_dir = Path(path) / MODEL_DIR
        if not model_dir.is_dir():
            raise ModelLoadError(
                f"ner_bert component {self.name!r}: {model_dir} does not exist; the pipeline "
                "folder is incomplete (save it again with nlp.to_disk)."
            )
        self._predictor = self._load(model_dir)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling (e.g. multiprocessing with the "spawn" start method) goes through to_bytes.
        settings = {
            "model": self.model,
            "batch_size": self.batch_size,
            "aggregation": self.aggregation,
            "device": self.device,
            "policy": self.policy.value,
            "spans_key": self.spans_key,
            "labels": self.label_names,
            "scorer": self.scorer,
        }
        return (_unpickle, (self.name, settings, self.to_bytes()))

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        """Serialize the model directory as ``{"model": {relative path: bytes}}`` (msgpack)."""
        with tempfile.TemporaryDirectory(prefix="ner_bert_") as tmp:
            root = Path(tmp)
            self.predictor.save(root)
            files = {
                p.relative_to(root).as_posix(): p.read_bytes()
                for p in sorted(root.rglob("*"))
                if p.is_file()
            }
        return srsly.msgpack_dumps({MODEL_DIR: files})  # type: ignore[no-any-return]

    def from_bytes(
        self, bytes_data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()
    ) -> "NerBertComponent":
        """Load a model serialized by :meth:`to_bytes`; returns ``self``."""
        data = srsly.msgpack_loads(bytes_data)
        files = data.get(MODEL_DIR) if isinstance(data, dict) else None
        if not files:
            raise ModelLoadError(
                f"ner_bert component {self.name!r}: the bytes hold no model; they must come "
                "from NerBertComponent.to_bytes (or nlp.to_bytes)."
            )
        tmp = tempfile.TemporaryDirectory(prefix="ner_bert_")
        root = Path(tmp.name)
        for name, content in files.items():
            target = (root / name).resolve()
            if root.resolve() not in target.parents:
                raise ModelLoadError(f"ner_bert component: bad file name {name!r} in the bytes.")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        self._predictor = self._load(root)
        self._tmpdir = tmp  # the files live as long as the component
        return self


def _unpickle(name: str, settings: dict[str, Any], data: bytes) -> NerBertComponent:
    component = NerBertComponent(None, name, load=False, **settings)
    return component.from_bytes(data)


def _token_set(spans: Iterable[Span]) -> set[int]:
    return {i for span in spans for i in range(span.start, span.end)}


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
    scorer: Callable[..., dict[str, Any]] | None,
) -> NerBertComponent:
    """Create the ``ner_bert`` component (called by ``nlp.add_pipe("ner_bert", config=...)``).

    With ``nlp.add_pipe`` the model is loaded at once, so a wrong ``model`` fails here; inside
    ``spacy.load`` it is loaded from the pipeline folder by ``from_disk`` instead.
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
        scorer=scorer,
        load=not _inside_from_config(),
    )
