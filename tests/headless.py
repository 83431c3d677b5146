"""Headless Chromium for the tests that look at pages as a reader does (test_browser,
test_docs). Chromium is a system package (``.ci/run`` installs Debian's ``chromium``); without
it those tests are skipped, except under ``NER_BERT_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def require_browser() -> str:
    """The browser's path, or skip (fail under ``NER_BERT_REQUIRE_BROWSER=1``)."""
    if BROWSER is None:
        if os.environ.get("NER_BERT_REQUIRE_BROWSER") == "1":
            pytest.fail("NER_BERT_REQUIRE_BROWSER=1 but chromium is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return BROWSER


def headless(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with ``args`` (e.g. ``--dump-dom URL``)."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)
