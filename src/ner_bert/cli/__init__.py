"""The ``ner-bert`` command line: a thin layer over the library (``main(argv) -> int``)."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
