"""Tags and scores of pre-tokenized sentences with the model being trained.

The same path as :class:`~ner_bert.NERPredictor` (windows or document context, batched forward
pass, first-subword probabilities, Viterbi), so the dev F1 that picks the best model is the F1
the saved model gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import DataFormatError
from ..evaluation import EvaluationReport, evaluate_tags
from ..labels import LabelSet
from ..model.forward import SubwordScorer, TorchRunner
from ..subwords.decoding import decode_many, word_probabilities
from ..subwords.encoding import TextEncoder
from ..types import TaggedSentence

__all__ = ["predict_tags", "score_sentences"]


def predict_tags(
    model: Any,
    sentences: Sequence[Sequence[str]],
    *,
    encoder: TextEncoder,
    labels: LabelSet,
    dtype: Any,
    batch_size: int,
    stride: int,
    context_size: int,
    documents: Sequence[int] | None = None,
) -> list[list[str]]:
    """IOB2 tags of pre-tokenized sentences (first-subword probabilities, Viterbi).

    The model is put in eval mode for the call and back in its former mode after it.

    Raises:
        DataFormatError: ``documents`` does not have one id per sentence.
    """
    if documents is not None and len(documents) != len(sentences):
        raise DataFormatError(
            f"documents has {len(documents)} ids for {len(sentences)} sentences; give "
            "one document id per sentence."
        )
    runner = TorchRunner(model, device=next(model.parameters()).device, dtype=dtype)
    scorer = SubwordScorer(
        runner,
        encoder,
        n_labels=len(labels),
        max_batch_tokens=batch_size * encoder.max_length,  # batches of `batch_size` inputs
        context_size=context_size,
        context_window=encoder.window,
        stride=stride,
        pad_multiple=8,  # as in training batches
    )
    encoded = encoder.encode_words(sentences)
    was_training = model.training
    model.eval()
    try:
        probs = scorer.probabilities(encoded, batch_size, documents=documents)
    finally:
        model.train(was_training)
    word_probs = [
        word_probabilities(token_probs, item.word_ids, item.n_words, "first")
        for item, token_probs in zip(encoded, probs, strict=True)
    ]
    return [tags for tags, _ in decode_many(word_probs, labels)]


def score_sentences(
    model: Any, sentences: Sequence[TaggedSentence], **options: Any
) -> EvaluationReport:
    """Predict ``sentences`` (with their documents) and score against their tags.

    Args:
        model: The token-classification model.
        sentences: Gold sentences.
        **options: As for :func:`predict_tags`.
    """
    predicted = predict_tags(
        model,
        [s.words for s in sentences],
        documents=[s.document for s in sentences],
        **options,
    )
    return evaluate_tags([s.tags for s in sentences], predicted)
