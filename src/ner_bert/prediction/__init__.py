"""NERPredictor: raw text or pre-tokenized words in, entities with exact offsets out.

Pipeline for raw text: the whole text is tokenized once (no truncation) with character
offsets; the subword sequence is cut into overlapping windows of the model's length; the
windows of many texts are sorted by length and run in padded batches; each subword keeps the
prediction of the window where it has the most context; subword probabilities become word
probabilities (``first``/``average``/``max``), words get valid IOB2 tags (constrained Viterbi
or greedy), and tagged words become :class:`~ner_bert.types.Entity` spans trimmed of
whitespace, with ``text == original[start:end]``.

Scores: a word's score is its probability of its final tag; an entity's score is the mean of
its words' scores (see :mod:`ner_bert.subwords.decoding`).

Words in raw text are the tokenizer's own words (its pre-tokenizer's: for BERT, punctuation is
a word of its own, so ``AL-AIN`` is three words ``AL``, ``-``, ``AIN``). A model trained on
CoNLL-style words with labels on first subwords only has never been taught a tag for the
``-`` and ``AIN`` pieces of such a word, so it may split hyphenated or dotted names in raw
text (the transformers pipeline does the same); :meth:`NERPredictor.predict_words` on the
training-style words does not have this problem, and training with
``label_all_subwords=True`` teaches the continuation pieces ``I-`` tags.
"""

from .predictor import NERPredictor

__all__ = ["NERPredictor"]
