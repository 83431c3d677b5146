"""``python -m ner_bert``: the ``ner-bert`` command line."""

import sys

from .cli import main

sys.exit(main())
