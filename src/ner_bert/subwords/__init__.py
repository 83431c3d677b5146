"""The subword layer (internal; numpy and ``tokenizers`` only, no torch).

Text or words -> subwords with offsets (:mod:`.encoding`) -> windows and document segments
(:mod:`.windows`, :mod:`.context`, :mod:`.inputs`) and, after the model, subword probabilities
-> words -> IOB2 tags -> entities (:mod:`.decoding`).
"""
