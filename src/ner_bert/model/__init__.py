"""The model layer (internal): device and precision, model folders, loading, the forward pass.

Every rule about where and how a model runs lives here once: :mod:`.device` (device and
precision), :mod:`.files` (what a model folder holds), :mod:`.loading` (the loader and the
input-length rule), :mod:`.forward` (batched forward pass to subword probabilities).
"""
