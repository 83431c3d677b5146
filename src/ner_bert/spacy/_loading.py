"""Model folders in and out of the spaCy component: load one, pack one into bytes, unpack it.

Every error names the component and the model, and says how to fix the setting, because the
component loads lazily: the error may come at ``nlp.initialize()`` or at the first doc, far
from the ``nlp.add_pipe`` line or the ``config.cfg`` that named the model.
"""

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import srsly

from ..errors import ModelLoadError, NerBertError

if TYPE_CHECKING:  # pragma: no cover
    from ..prediction import NERPredictor

__all__ = [
    "ADD_PIPE_HINT",
    "MODEL_DIR",
    "load_predictor",
    "model_location",
    "pack_model",
    "unpack_model",
]

MODEL_DIR = "model"
"""Sub-folder of the component's folder in a saved pipeline (and key in its bytes) that holds
the model."""

ADD_PIPE_HINT = (
    'nlp.add_pipe("ner_bert", config={"model": "path/to/model"}), or in config.cfg: '
    '[components.ner_bert] model = "path/to/model"'
)


def model_location(model: str) -> "str | Path":
    """Where to load the ``model`` setting from: an existing local folder as an absolute path
    (resolved now, so a later ``os.chdir`` does not change it), anything else as given.

    Nothing is required to exist: a pipeline built from a config by ``spacy.load`` names a
    model that may be gone (it then loads the copy in the pipeline folder).

    Example:
        >>> model_location("dslim/bert-base-NER")
        'dslim/bert-base-NER'
        >>> model_location(".") == Path.cwd()
        True
    """
    local = Path(model).expanduser()
    return local.absolute() if local.is_dir() else model


def load_predictor(
    location: "str | Path",
    *,
    component: str,
    aggregation: str | None,
    batch_size: int,
    device: str | None,
    labels: list[str] | None,
) -> "NERPredictor":
    """Load a ``NERPredictor`` from a local model folder or a hub name, for ``component``.

    A location that looks local (it exists, starts with ``.``, ``/`` or ``~``, or has a
    backslash) must be a folder; anything else is tried as a hub name. Every ner_bert error
    keeps its type and gains the component's name.

    Example:
        >>> load_predictor(  # doctest: +ELLIPSIS
        ...     "/no/such/model", component="ner", aggregation=None, batch_size=8,
        ...     device=None, labels=None,
        ... )
        Traceback (most recent call last):
        ...
        ner_bert.errors.ModelLoadError: ner_bert component 'ner': model '/no/such/model' is ...
    """
    from ..config import PredictionConfig
    from ..prediction import NERPredictor

    text = str(location)
    local = Path(text).expanduser()
    looks_local = local.exists() or text.startswith((".", "/", "~")) or "\\" in text
    if looks_local and not local.is_dir():
        raise ModelLoadError(
            f"ner_bert component {component!r}: model {text!r} is not a directory (it does "
            "not exist, or it is a file); give the folder a ner_bert model was saved to, e.g. "
            f"{ADD_PIPE_HINT}."
        )
    config = None
    if aggregation is not None:
        config = PredictionConfig(aggregation=aggregation, batch_size=batch_size)
    where = f"ner_bert component {component!r}: "
    try:
        return NERPredictor.from_pretrained(
            local if looks_local else text, device=device, labels=labels, config=config
        )
    except ModelLoadError as exc:
        if looks_local:
            raise ModelLoadError(f"{where}{exc}") from exc
        raise ModelLoadError(
            f"{where}model {text!r} is not a local folder (none at {local.absolute()}) and "
            f"did not load as a hub name: {exc}"
        ) from exc
    except NerBertError as exc:  # labels: generic LABEL_<n> names, not IOB2, ...
        raise type(exc)(f"{where}{exc}") from exc


def pack_model(predictor: "NERPredictor") -> bytes:
    """The predictor's model folder as msgpack bytes: ``{"model": {relative path: bytes}}``."""
    with tempfile.TemporaryDirectory(prefix="ner_bert_") as tmp:
        root = Path(tmp)
        predictor.save(root)
        files = {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
    return srsly.msgpack_dumps({MODEL_DIR: files})  # type: ignore[no-any-return]


def unpack_model(data: bytes, *, component: str) -> "tempfile.TemporaryDirectory[str]":
    """Write the model folder packed by :func:`pack_model` into a new temporary directory.

    The caller keeps the returned directory as long as the model is in use; its files are
    deleted with it.
    """
    loaded = srsly.msgpack_loads(data)
    files = loaded.get(MODEL_DIR) if isinstance(loaded, dict) else None
    if not files:
        raise ModelLoadError(
            f"ner_bert component {component!r}: the bytes hold no model; they must come "
            "from NerBertComponent.to_bytes (or nlp.to_bytes)."
        )
    tmp = tempfile.TemporaryDirectory(prefix="ner_bert_")
    root = Path(tmp.name).resolve()
    for name, content in files.items():
        target = (root / name).resolve()
        if root not in target.parents:
            tmp.cleanup()
            raise ModelLoadError(
                f"ner_bert component {component!r}: bad file name {name!r} in the bytes "
                "(it points outside the model folder)."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return tmp
