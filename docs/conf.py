"""Sphinx configuration for the ner_bert docs.

Built offline and warning-free: ``make docs`` runs ``sphinx-build -W``. Only Sphinx's built-in
extensions plus the small local ones in ``_ext/`` are used; the theme is the default alabaster.

intersphinx is off: the build has no network, so remote inventories cannot be fetched. If
``_inventories/<name>.inv`` files are present (e.g. ``python.inv`` saved from
https://docs.python.org/3/objects.inv), they are used as offline inventories for the matching
site below, and links to that site appear; without them nothing changes.
"""

from __future__ import annotations

import doctest as _doctest
import os
import sys
from importlib.metadata import version as _version
from pathlib import Path

# The docs build never uses the network: autodoc imports modules that import
# huggingface_hub (which reads these once, at import), and the doctests load local folders.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "ner_bert"
author = "ner_bert developers"
copyright = "2026, ner_bert developers"
release = _version("ner-bert")
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "ner_bert_docs",
    "doctest_display",
    "benchmark_charts",
]

exclude_patterns = ["_build", "_inventories"]
root_doc = "index"
language = "en"
pygments_style = "sphinx"

# -- API reference -------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True}
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Render "Attributes:" as :ivar: fields, so dataclass fields are not described twice.
napoleon_use_ivar = True

# -- intersphinx: offline inventories only --------------------------------------------------------
_SITES = {
    "python": "https://docs.python.org/3",
    "spacy": "https://spacy.io",
    "transformers": "https://huggingface.co/docs/transformers/main/en",
}
intersphinx_mapping = {
    name: (url, str(DOCS / "_inventories" / f"{name}.inv"))
    for name, url in _SITES.items()
    if (DOCS / "_inventories" / f"{name}.inv").is_file()
}
if intersphinx_mapping:
    extensions.append("sphinx.ext.intersphinx")

# -- doctest: snippets run in a scratch folder with tiny offline models ---------------------------
# docs_fixtures.enter_workspace() builds (once per build) a folder holding a tiny random
# encoder named "bert-base-cased", a tiny fine-tuned model "my-ner-model", and small CoNLL
# files under conll2003/, then chdirs there; so the snippets read exactly like user code and
# run offline in seconds. See docs/_ext/docs_fixtures.py.
doctest_global_setup = """
import docs_fixtures
docs_fixtures.enter_workspace()
"""
doctest_global_cleanup = """
docs_fixtures.leave_workspace()
"""
# Only the docs' own doctest/testcode blocks: the docstring examples that autodoc pulls in
# need their module's globals and are run by pytest --doctest-modules over src/ instead.
doctest_test_doctest_blocks = ""
doctest_default_flags = (
    _doctest.ELLIPSIS | _doctest.NORMALIZE_WHITESPACE | _doctest.DONT_ACCEPT_TRUE_FOR_1
)

# -- HTML ----------------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"ner_bert {release}"
html_theme_options = {
    "description": "Fine-tune BERT-family encoders for NER; exact-offset predictions in "
    "Python and spaCy.",
    "fixed_sidebar": True,
    "page_width": "1240px",
    "body_max_width": "none",
    "sidebar_width": "240px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_show_sourcelink = False
# The layout check of tests/test_docs.py: each page lists what overflows or fails to load.
html_static_path = ["_static"]
html_js_files = ["layout_check.js"] if os.environ.get("NER_BERT_DOCS_LAYOUT_CHECK") else []
html_css_files = ["custom.css"]
