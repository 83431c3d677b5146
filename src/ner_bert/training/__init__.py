"""Fine-tuning: :class:`NERTrainer` on ``transformers.Trainer``.

Data preparation (windows, document context, label alignment) and NER evaluation on words are
ner_bert's; the loop, checkpoints, logging and distribution are the Trainer's.
"""

from .result import HistoryEntry, LossPoint, TrainingResult
from .trainer import NERTrainer

__all__ = ["HistoryEntry", "LossPoint", "NERTrainer", "TrainingResult"]
