"""What readers see of the docs' doctests: real numbers, and no doctest scaffolding.

``make docs`` fails (a warning under ``-W``) on a code block that shows doctest scaffolding
to readers: a number cut short with an ellipsis (``0.9...``), an output line that is only
``...`` outside a traceback, or a name of the docs' test fixtures. See :func:`artefacts`.

The docs' snippets run against tiny offline stand-ins for the models (see ``docs_fixtures``),
whose scores move in the second decimal from one CPU to another. Rather than hiding those
numbers behind ``+ELLIPSIS`` (readers then see ``0.9...``), the pages show the numbers a build
printed, and this checker accepts an output whose decimal numbers are each within
:data:`TOLERANCE` of the shown ones, the rest of the text being equal. Integers, labels,
offsets and everything else must still match exactly.
"""

from __future__ import annotations

import doctest
import re
from typing import Any

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

TOLERANCE = 0.05
_DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d+(?:e-?\d+)?(?![\w.])")
_plain_check = doctest.OutputChecker.check_output


def numbers_close(want: str, got: str) -> bool:
    """``want`` and ``got`` equal once each decimal number may differ by :data:`TOLERANCE`.

    Example:
        >>> numbers_close("PER 0.97 at 10\\n", "PER 0.9512 at 10\\n")
        True
        >>> numbers_close("PER 0.97 at 10\\n", "PER 0.97 at 11\\n")
        False
    """
    wanted, found = _DECIMAL.findall(want), _DECIMAL.findall(got)
    if len(wanted) != len(found) or _DECIMAL.split(want) != _DECIMAL.split(got):
        return False
    return all(abs(float(a) - float(b)) <= TOLERANCE for a, b in zip(wanted, found, strict=True))


def _check_output(self: doctest.OutputChecker, want: str, got: str, optionflags: int) -> bool:
    if _plain_check(self, want, got, optionflags):
        return True
    flat_want, flat_got = want, got
    if optionflags & doctest.NORMALIZE_WHITESPACE:
        flat_want, flat_got = " ".join(want.split()), " ".join(got.split())
    return numbers_close(flat_want, flat_got)


_CUT_NUMBER = re.compile(r"\d[\d.]*?\.\.\.")
_FIXTURE_NAMES = ("tiny_model_dir", "tiny_encoder_dir", "docs_fixtures", "_trained")


def artefacts(text: str) -> list[str]:
    """The doctest scaffolding a code block would show readers.

    Example:
        >>> artefacts("PER 'John Smith' 0 10 0.9...")
        ['a number cut short with "..." (0.9...)']
        >>> artefacts("Traceback (most recent call last):\\n...\\nValueError: x")
        []
    """
    found = [f'a number cut short with "..." ({m.group()})' for m in _CUT_NUMBER.finditer(text)]
    lines = text.splitlines()
    for number, line in enumerate(lines):
        after_traceback = number > 0 and lines[number - 1].startswith("Traceback (most recent")
        if line.strip() == "..." and not after_traceback:
            found.append(f'an output line "..." (line {number + 1})')
    found += [f"the test fixture name {name!r}" for name in _FIXTURE_NAMES if name in text]
    return found


def _check_shown_code(app: Any, doctree: nodes.document, docname: str) -> None:
    for block in doctree.findall(nodes.literal_block):
        for problem in artefacts(block.astext()):
            logger.warning(
                "%s shows doctest scaffolding to readers: %s", docname, problem, location=block
            )


def setup(app: Any) -> dict[str, Any]:
    # sphinx.ext.doctest's runners use doctest's own OutputChecker; it is this build's process.
    doctest.OutputChecker.check_output = _check_output  # type: ignore[method-assign]
    app.connect("doctree-resolved", _check_shown_code)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
