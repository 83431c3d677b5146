"""Pages in a real browser: the ``ner-bert predict --html`` page opened in headless Chromium.

Chromium is a system package (``.ci/run`` installs Debian's ``chromium``); without it these
tests are skipped, except under ``NER_BERT_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from headless import headless, require_browser
from PIL import Image

from ner_bert.spacy.rendering import label_color


@pytest.fixture(scope="module")
def browser() -> str:
    return require_browser()


class _Marks(HTMLParser):
    """The text and tooltip of every ``<mark class="entity">`` of a rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[str, str]] = []
        self._depth = 0
        self._text: list[str] = []
        self._title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "mark" and ("class", "entity") in attrs:
            self._depth, self._text, self._title = 1, [], dict(attrs).get("title") or ""
        elif self._depth:
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1
            if not self._depth:
                self.marks.append(("".join(self._text), self._title))

    def handle_data(self, data: str) -> None:
        if self._depth == 1:  # the entity's own text, not its label's <span>
            self._text.append(data)


def test_the_predict_page_shows_each_entity_in_its_labels_colour(
    browser: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("John Smith lives in Paris.\nMary visited the European Union in Berlin.\n")
    page, out = tmp_path / "page.html", tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "ner_bert", "predict", "--model", str(tiny_model_dir)]
    done = subprocess.run(
        [*command, str(texts), "--html", str(page), "-o", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    entities = [e for line in out.read_text().splitlines() for e in json.loads(line)["entities"]]
    assert entities, "the random tiny model tags plenty"

    dom = headless(browser, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr
    marks = _Marks()
    marks.feed(dom.stdout)
    assert [(text.strip(), title) for text, title in marks.marks] == [
        (e["text"], f"{e['label']} {e['score']:.3f} [{e['start']}, {e['end']})") for e in entities
    ]

    shot = tmp_path / "page.png"
    taken = headless(browser, f"--screenshot={shot}", "--window-size=1000,700", page.as_uri())
    assert taken.returncode == 0 and shot.exists(), taken.stderr
    pixels = {rgb for _, rgb in Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)}
    for label in {e["label"] for e in entities}:
        colour = label_color(label)
        rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert rgb in pixels, f"no {label} mark ({colour}) was drawn"
