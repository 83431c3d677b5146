"""spaCy integration: the ``ner_bert`` factory and component (:mod:`ner_bert.spacy.component`).

This subpackage is the only part of ner_bert that imports spaCy, and ``import ner_bert`` does
not import it. spaCy finds the factory through the ``spacy_factories`` entry point, so
``nlp.add_pipe("ner_bert", ...)`` and ``spacy.load(path)`` need no ``import ner_bert``.
"""
