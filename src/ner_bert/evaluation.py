"""Entity-level evaluation of word tags: precision, recall and F1, conlleval and strict IOB2.

Scores are computed on **words** (one tag per word, never per subword) with seqeval, in two
modes side by side:

``conlleval``
    seqeval's default mode, compatible with the ``conlleval`` Perl script of CoNLL-2000/2003:
    an ``I-X`` that does not continue an ``X`` mention opens a new mention. This is the number
    papers report, and :attr:`EvaluationReport.f1` (the headline number) is its micro F1.
``strict``
    seqeval ``mode="strict"`` with ``scheme=IOB2``: a mention must open with ``B-X``; a predicted
    mention that opens with ``I-X`` is not a mention at all, so it cannot be a true positive.

A predicted mention counts as correct when its type, first and last word all equal a gold
mention's. Precision, recall or F1 whose denominator is zero is ``0.0`` (seqeval's
``zero_division=0``, so no ``UndefinedMetricWarning``).

Pure Python plus seqeval/numpy: no torch, no transformers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from .errors import DataFormatError, TagSchemeError
from .labels import split_tag

__all__ = ["EvaluationReport", "ModeReport", "Scores", "evaluate_tags"]

_MICRO = "micro avg"
_MACRO = "macro avg"
_AVERAGES = (_MICRO, _MACRO, "weighted avg")


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 of one entity type (or an average), as plain Python numbers.

    Attributes:
        precision: Correct predicted mentions / predicted mentions (``0.0`` if none predicted).
        recall: Correct predicted mentions / gold mentions (``0.0`` if there are no gold ones).
        f1: Harmonic mean of precision and recall (``0.0`` if both are ``0.0``).
        support: Number of gold mentions.
    """

    precision: float
    recall: float
    f1: float
    support: int

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"precision": ..., "recall": ..., "f1": ..., "support": ...}``."""
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
        }


_ZERO = Scores(precision=0.0, recall=0.0, f1=0.0, support=0)


@dataclass(frozen=True)
class ModeReport:
    """The scores of one evaluation mode.

    Attributes:
        per_type: Scores per entity type, sorted by type. A type that appears only in the
            predictions is included with ``support=0`` (its predictions are false positives,
            so its precision, recall and F1 are ``0.0``), and it counts in :attr:`macro`.
        micro: Scores over all mentions of all types together.
        macro: Unweighted mean of the per-type precision, recall and F1; ``support`` is the
            total number of gold mentions. All zeros when there are no types at all.
    """

    per_type: dict[str, Scores]
    micro: Scores
    macro: Scores

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable nested dict."""
        return {
            "per_type": {kind: scores.to_dict() for kind, scores in self.per_type.items()},
            "micro": self.micro.to_dict(),
            "macro": self.macro.to_dict(),
        }


@dataclass(frozen=True)
class EvaluationReport:
    """Entity-level scores of predicted word tags against gold word tags, in both modes.

    Attributes:
        conlleval: Scores in the conlleval-compatible mode (``I-X`` may open a mention).
        strict: Scores in the strict IOB2 mode (only ``B-X`` opens a mention).
        n_sentences: Number of sentences evaluated.
    """

    conlleval: ModeReport
    strict: ModeReport
    n_sentences: int

    @property
    def f1(self) -> float:
        """The headline number: micro-averaged F1 in the conlleval-compatible mode."""
        return self.conlleval.micro.f1

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable nested dict (``json.dumps`` works on it as is).

        Example:
            >>> evaluate_tags([["B-PER", "O"]], [["B-PER", "O"]]).to_dict()["strict"]["micro"]
            {'precision': 1.0, 'recall': 1.0, 'f1': 1.0, 'support': 1}
        """
        return {
            "n_sentences": self.n_sentences,
            "f1": self.f1,
            "conlleval": self.conlleval.to_dict(),
            "strict": self.strict.to_dict(),
        }

    def format_table(self) -> str:
        """A readable table: one row per type, then micro and macro; both modes side by side.

        A type with no row in the strict mode (predicted only as mentions opening with
        ``I-``, which strict IOB2 does not count) shows ``-`` there.
        """
        kinds = sorted(set(self.conlleval.per_type) | set(self.strict.per_type))
        rows: list[tuple[str, Scores | None, Scores | None]] = [
            (kind, self.conlleval.per_type.get(kind), self.strict.per_type.get(kind))
            for kind in kinds
        ]
        averages = [
            ("micro", self.conlleval.micro, self.strict.micro),
            ("macro", self.conlleval.macro, self.strict.macro),
        ]
        width = max([len("macro"), *(len(kind) for kind in kinds)])
        group = 3 * 7 + 2 * 2  # three columns of 7 characters and their separators
        lines = [
            f"{'':<{width}}  {'conlleval':^{group}}  {'strict':^{group}}",
            f"{'type':<{width}}  "
            + "  ".join(f"{name:>7}" for name in ("P", "R", "F1") * 2)
            + f"  {'support':>7}",
        ]

        def row(name: str, conll: Scores | None, strict: Scores | None) -> str:
            cells = []
            for scores in (conll, strict):
                if scores is None:
                    cells += [f"{'-':>7}"] * 3
                else:
                    cells += [f"{v:>7.4f}" for v in (scores.precision, scores.recall, scores.f1)]
            support = (conll or strict or _ZERO).support
            return f"{name:<{width}}  " + "  ".join(cells) + f"  {support:>7d}"

        lines += [row(*r) for r in rows]
        lines.append("")
        lines += [row(*r) for r in averages]
        plural = "" if self.n_sentences == 1 else "s"
        lines.append(f"({self.n_sentences} sentence{plural})")
        return "\n".join(line.rstrip() for line in lines)

    __str__ = format_table


def evaluate_tags(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]
) -> EvaluationReport:
    """Score predicted IOB2 word tags against gold word tags, entity by entity.

    Each sentence is a sequence of word tags (``"O"``, ``"B-X"``, ``"I-X"``). Gold tags must be
    valid IOB2 (every mention opens with ``B-X``); predicted tags may contain an ``I-X`` that
    opens a mention, which is exactly where the two modes differ (see the module docs). Types
    that only appear in the predictions get a row with ``support=0``.

    Args:
        gold: The gold tags, one sequence per sentence.
        predicted: The predicted tags, same number of sentences and words.

    Returns:
        An :class:`EvaluationReport` with per-type, micro and macro scores in both modes.

    Raises:
        DataFormatError: No sentences, different numbers of sentences, a sentence whose gold
            and predicted lengths differ, or a sentence given as one string.
        TagSchemeError: A tag that is not ``O``/``B-X``/``I-X``, or a gold ``I-X`` that does
            not continue an ``X`` mention.

    Example:
        >>> gold = [["B-PER", "I-PER", "O", "B-LOC"]]
        >>> pred = [["I-PER", "I-PER", "O", "B-LOC"]]
        >>> report = evaluate_tags(gold, pred)
        >>> report.f1, report.strict.micro.f1  # strict: the I-PER mention does not count
        (1.0, 0.6666666666666666)
        >>> report.strict.per_type["PER"]
        Scores(precision=0.0, recall=0.0, f1=0.0, support=1)
        >>> print(report)
                       conlleval                   strict
        type         P        R       F1        P        R       F1  support
        LOC     1.0000   1.0000   1.0000   1.0000   1.0000   1.0000        1
        PER     1.0000   1.0000   1.0000   0.0000   0.0000   0.0000        1
        <BLANKLINE>
        micro   1.0000   1.0000   1.0000   1.0000   0.5000   0.6667        2
        macro   1.0000   1.0000   1.0000   0.5000   0.5000   0.5000        2
        (1 sentence)
    """
    gold_tags, pred_tags = _check_and_normalize(gold, predicted)
    conlleval, strict = _score_modes(gold_tags, pred_tags)
    return EvaluationReport(conlleval=conlleval, strict=strict, n_sentences=len(gold_tags))


def _check_and_normalize(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]
) -> tuple[list[list[str]], list[list[str]]]:
    """Check the sentences pair up word for word; return both sides spelled ``O``/``B-X``/``I-X``.

    The gold tags must be valid IOB2; a predicted ``I-X`` may open a mention.
    """
    if len(gold) == 0:
        raise DataFormatError(
            "evaluate_tags got no sentences; pass one sequence of word tags per sentence."
        )
    if len(gold) != len(predicted):
        raise DataFormatError(
            f"evaluate_tags got {len(gold)} gold sentences but {len(predicted)} predicted "
            "ones; pass the predictions of exactly the gold sentences, in the same order."
        )
    gold_tags: list[list[str]] = []
    pred_tags: list[list[str]] = []
    for index, (gold_sentence, pred_sentence) in enumerate(zip(gold, predicted, strict=True)):
        for name, sentence in (("gold", gold_sentence), ("predicted", pred_sentence)):
            if isinstance(sentence, str):
                raise DataFormatError(
                    f"{name} sentence {index} is the string {sentence!r}, not a sequence of "
                    "tags; pass a list of sentences, each a list of word tags."
                )
        if len(gold_sentence) != len(pred_sentence):
            raise DataFormatError(
                f"sentence {index}: {len(gold_sentence)} gold tags but {len(pred_sentence)} "
                "predicted tags; predict exactly one tag per word (word level, not subwords)."
            )
        gold_tags.append(_normalize(gold_sentence, where=f"gold sentence {index}", strict=True))
        pred_tags.append(
            _normalize(pred_sentence, where=f"predicted sentence {index}", strict=False)
        )
    return gold_tags, pred_tags


def _score_modes(
    gold_tags: list[list[str]], pred_tags: list[list[str]]
) -> tuple[ModeReport, ModeReport]:
    """Score normalized tags with seqeval: the conlleval mode, then the strict IOB2 mode."""
    # The modes only differ on which predicted tags open a mention. With no mention at all in a
    # mode, seqeval's macro average would be the mean of an empty array (nan plus a warning).
    any_gold = any(tag != "O" for tags in gold_tags for tag in tags)
    any_pred = any(tag != "O" for tags in pred_tags for tag in tags)
    any_pred_b = any(tag.startswith("B-") for tags in pred_tags for tag in tags)
    conlleval = _seqeval_mode(gold_tags, pred_tags, any_mention=any_gold or any_pred)
    strict = _seqeval_mode(
        gold_tags, pred_tags, any_mention=any_gold or any_pred_b, mode="strict", scheme=IOB2
    )
    return conlleval, strict


def _seqeval_mode(
    gold_tags: list[list[str]], pred_tags: list[list[str]], *, any_mention: bool, **options: Any
) -> ModeReport:
    """One mode's scores from seqeval (``options`` pick the mode); all zeros with no mention."""
    if not any_mention:
        return ModeReport(per_type={}, micro=_ZERO, macro=_ZERO)
    return _mode_report(
        classification_report(gold_tags, pred_tags, output_dict=True, zero_division=0, **options)
    )


def _normalize(tags: Sequence[str], *, where: str, strict: bool) -> list[str]:
    """Check one sentence's tags and spell them ``O``/``B-X``/``I-X`` (``B_X`` -> ``B-X``).

    With ``strict``, an ``I-X`` must continue an ``X`` mention (valid IOB2).
    """
    out: list[str] = []
    previous: str | None = None
    for position, tag in enumerate(tags):
        here = f"{where}, word {position}: "
        if not isinstance(tag, str):
            raise TagSchemeError(f"{here}tag {tag!r} is not a string; expected 'O' or 'B-X'/'I-X'.")
        prefix, kind = split_tag(tag, where=here)
        if kind is None:
            out.append("O")
        elif prefix not in ("B", "I"):
            shown = f"prefix {prefix}-" if prefix else "no prefix"
            raise TagSchemeError(
                f"{here}tag {tag!r} has {shown}; evaluate_tags expects IOB2 tags ('O', 'B-X', "
                "'I-X'): convert the tags with ner_bert.convert_to_iob2 first."
            )
        elif strict and prefix == "I" and previous != kind:
            before = f"follows {tags[position - 1]!r}" if position else "opens the sentence"
            raise TagSchemeError(
                f"{here}gold tag {tag!r} {before}; gold IOB2 mentions open with 'B-{kind}'. "
                "Convert the gold tags with ner_bert.convert_to_iob2 (e.g. scheme='IOB1')."
            )
        else:
            out.append(f"{prefix}-{kind}")
        previous = kind
    return out


def _scores(row: Mapping[str, Any]) -> Scores:
    return Scores(
        precision=float(row["precision"]),
        recall=float(row["recall"]),
        f1=float(row["f1-score"]),
        support=int(row["support"]),
    )


def _mode_report(report: Mapping[str, Mapping[str, Any]]) -> ModeReport:
    per_type = {kind: _scores(row) for kind, row in sorted(report.items()) if kind not in _AVERAGES}
    return ModeReport(
        per_type=per_type, micro=_scores(report[_MICRO]), macro=_scores(report[_MACRO])
    )
