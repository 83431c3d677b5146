"""Readers and writers: CoNLL column files, span JSONL, Hugging Face datasets, HTML pages.

The readers are exported by :mod:`ner_bert` (``read_conll``, ``read_jsonl``,
``from_hf_dataset``, ...); import them from there.
"""
