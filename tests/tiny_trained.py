"""A tiny BERT token classifier *trained* in-process (seconds, offline) on a synthetic task.

Random-weight models tag noise; prediction tests that look for planted entities need a model
that really finds them. The task: ``john``/``mary`` open a PER (``smith`` right after one
continues it), ``paris``/``london``/``berlin`` are LOC, ``reuters`` is ORG and ``european
union`` is ORG over two words; everything else is O. Sentences are random word sequences of
every length up to the model's window, so every position is trained.
"""

from __future__ import annotations

import random
from pathlib import Path

import tiny_models

FIRST_NAMES = ("john", "mary")
CITIES = ("paris", "london", "berlin")
FILLER = (
    *tuple(
        w
        for w in tiny_models.WORDS
        if w not in {*FIRST_NAMES, *CITIES, "smith", "reuters", "european", "union"}
    ),
    ".",
    ",",
    "!",
    "-",
    "'",
)


def _phrase(rng: random.Random) -> tuple[list[str], list[str]]:
    roll = rng.random()
    if roll < 0.65:
        word = rng.choice(FILLER)
        return [word], ["O"]
    if roll < 0.77:
        name = rng.choice(FIRST_NAMES)
        if rng.random() < 0.5:
            return [name, "smith"], ["B-PER", "I-PER"]
        return [name], ["B-PER"]
    if roll < 0.89:
        return [rng.choice(CITIES)], ["B-LOC"]
    if roll < 0.95:
        return ["reuters"], ["B-ORG"]
    return ["european", "union"], ["B-ORG", "I-ORG"]


def synthetic_sentence(rng: random.Random, n_words: int) -> tuple[list[str], list[str]]:
    """Random words and their IOB2 tags (at most ``n_words`` words)."""
    words: list[str] = []
    tags: list[str] = []
    while len(words) < n_words:
        w, t = _phrase(rng)
        words += w
        tags += t
    return words[:n_words], tags[:n_words]


def build_trained_tiny_bert(
    directory: Path, *, steps: int = 150, seed: int = 0, max_length: int = 32
) -> Path:
    """Save a tiny BertForTokenClassification trained on the synthetic task, with tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertForTokenClassification

    tiny_models.build_tiny_bert(directory, seed=seed, max_length=max_length)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = BertForTokenClassification.from_pretrained(directory)
    label2id = model.config.label2id
    vocab = tokenizer.get_vocab()
    cls_id, sep_id, pad_id = vocab["[CLS]"], vocab["[SEP]"], vocab["[PAD]"]
    rng = random.Random(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and immune to a busy CPU
    max_words = model.config.max_position_embeddings - 2
    for _ in range(steps):
        batch_ids, batch_labels = [], []
        for _ in range(16):
            words, tags = synthetic_sentence(rng, rng.randint(1, max_words))
            batch_ids.append([cls_id] + [vocab[w] for w in words] + [sep_id])
            batch_labels.append([-100] + [label2id[t] for t in tags] + [-100])
        width = max(len(x) for x in batch_ids)
        ids = torch.full((len(batch_ids), width), pad_id)
        labels = torch.full((len(batch_ids), width), -100)
        mask = torch.zeros((len(batch_ids), width), dtype=torch.long)
        for i, (x, y) in enumerate(zip(batch_ids, batch_labels, strict=True)):
            ids[i, : len(x)] = torch.tensor(x)
            labels[i, : len(y)] = torch.tensor(y)
            mask[i, : len(x)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    torch.set_num_threads(threads)
    model.eval()
    model.save_pretrained(directory)
    return directory
