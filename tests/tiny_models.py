"""Tiny, random, offline BERT models and tokenizers for the tests (no network, ever)."""

from __future__ import annotations

import string
from pathlib import Path

ENTITY_TYPES = ("LOC", "MISC", "ORG", "PER")
LABELS = ("O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER")

WORDS = [
    "the",
    "a",
    "an",
    "of",
    "in",
    "on",
    "at",
    "to",
    "and",
    "or",
    "is",
    "was",
    "were",
    "he",
    "she",
    "it",
    "they",
    "we",
    "you",
    "i",
    "john",
    "mary",
    "smith",
    "paris",
    "london",
    "berlin",
    "germany",
    "france",
    "european",
    "union",
    "eu",
    "reuters",
    "lives",
    "works",
    "visited",
    "said",
    "says",
    "today",
    "yesterday",
    "company",
    "bank",
    "city",
    "river",
    "united",
    "states",
    "new",
    "york",
    "times",
    "football",
    "club",
    "played",
    "against",
    "with",
    "for",
    "from",
    "by",
    "president",
    "minister",
]


def build_wordpiece_tokenizer(
    directory: Path,
    *,
    lowercase: bool = True,
    max_length: int = 128,
    extra_words: tuple[str, ...] = (),
):
    """A fast BERT WordPiece tokenizer whose vocab covers every ASCII character (and
    ``extra_words`` as whole pieces)."""
    from transformers import BertTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    chars = string.ascii_lowercase + string.digits + string.punctuation
    if not lowercase:
        chars += string.ascii_uppercase
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += list(chars) + ["##" + c for c in chars]
    vocab += [w for w in (*WORDS, *extra_words) if w not in vocab]
    vocab += ["##" + w for w in ("hn", "ry", "is", "on", "in", "er", "ed", "s", "ing")]
    vocab = list(dict.fromkeys(vocab))
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(
        vocab=str(directory / "vocab.txt"),  # transformers 5 silently ignores vocab_file=
        do_lower_case=lowercase,
        model_max_length=max_length,
    )
    tokenizer.save_pretrained(directory)
    return tokenizer


def build_bpe_tokenizer(directory: Path, *, max_length: int = 128):
    """A fast byte-level BPE (RoBERTa-style) tokenizer trained in-process on a few words."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer(add_prefix_space=True)
    corpus = [" ".join(WORDS)] * 4 + [string.ascii_letters + string.digits]
    bpe.train_from_iterator(
        corpus,
        vocab_size=400,
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    )
    bpe.save_model(str(directory))
    tokenizer = RobertaTokenizer(
        vocab=str(directory / "vocab.json"),
        merges=str(directory / "merges.txt"),
        add_prefix_space=True,
        model_max_length=max_length,
    )
    tokenizer.save_pretrained(directory)
    return tokenizer


def build_tiny_bert(
    directory: Path,
    *,
    labels: tuple[str, ...] = LABELS,
    max_length: int = 128,
    seed: int = 0,
    hidden_size: int = 32,
    layers: int = 2,
) -> Path:
    """Save a random BertForTokenClassification with real label names and its tokenizer."""
    import torch
    from transformers import BertConfig, BertForTokenClassification

    tokenizer = build_wordpiece_tokenizer(directory, max_length=max_length)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden_size * 2,
        max_position_embeddings=max_length,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = BertForTokenClassification(config)
    model.save_pretrained(directory)
    return directory


def build_tiny_encoder(
    directory: Path,
    *,
    max_length: int = 128,
    seed: int = 0,
    hidden: int = 32,
    layers: int = 2,
    extra_words: tuple[str, ...] = (),
) -> Path:
    """Save a random BertModel (no head) and tokenizer: what a user fine-tunes from."""
    import torch
    from transformers import BertConfig, BertModel

    tokenizer = build_wordpiece_tokenizer(directory, max_length=max_length, extra_words=extra_words)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=max_length,
    )
    BertModel(config).save_pretrained(directory)
    return directory


SAMPLE_SENTENCES = (
    ("John Smith lives in Paris .", "B-PER I-PER O O B-LOC O"),
    ("Mary visited the European Union in Berlin today .", "B-PER O O B-ORG I-ORG O B-LOC O O"),
    ("Reuters said the bank was in London .", "B-ORG O O O O O B-LOC O"),
    ("the New York Times club played against France .", "O B-ORG I-ORG I-ORG O O O B-LOC O"),
    ("he says the European football club works with EU .", "O O O B-MISC O O O O B-ORG O"),
    ("the president of France visited Germany yesterday .", "O O O B-LOC O B-LOC O O"),
)


def write_sample_conll(path: Path, *, n_sentences: int = 12, documents: int = 2) -> Path:
    """Write a small IOB2 CoNLL file (``-DOCSTART-`` documents, 4 columns) for tests and docs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    per_document = max(1, n_sentences // documents)
    for index in range(n_sentences):
        if index % per_document == 0:
            lines += ["-DOCSTART- -X- -X- O", ""]
        words, tags = SAMPLE_SENTENCES[index % len(SAMPLE_SENTENCES)]
        lines += [f"{w} X X {t}" for w, t in zip(words.split(), tags.split(), strict=True)]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# Words a gazetteer model tags, and their tags (every other word is "O").
GAZETTEER = {
    "john": "B-PER",
    "mary": "B-PER",
    "smith": "I-PER",
    "paris": "B-LOC",
    "london": "B-LOC",
    "berlin": "B-LOC",
    "germany": "B-LOC",
    "france": "B-LOC",
    "new": "B-LOC",
    "york": "I-LOC",
    "united": "B-LOC",
    "states": "I-LOC",
    "reuters": "B-ORG",
    "eu": "B-ORG",
    "european": "B-ORG",
    "union": "I-ORG",
    "football": "B-MISC",
}


def build_gazetteer_bert(directory: Path) -> Path:
    """Save a BertForTokenClassification with hand-set weights that tags GAZETTEER words.

    No layers and no training: a GAZETTEER word's embedding points at its tag's dimension and
    the classifier reads that dimension, so "John Smith lives in New York" gives PER and LOC
    with scores near 1, deterministically and in well under a second. Any other word is "O".
    """
    import torch
    from transformers import BertConfig, BertForTokenClassification

    tokenizer = build_wordpiece_tokenizer(directory)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=0,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    model = BertForTokenClassification(config)
    vocab = tokenizer.get_vocab()
    with torch.no_grad():
        embeddings = model.bert.embeddings
        for table in (
            embeddings.word_embeddings,
            embeddings.position_embeddings,
            embeddings.token_type_embeddings,
        ):
            table.weight.zero_()
        for word, tag in GAZETTEER.items():
            embeddings.word_embeddings.weight[vocab[word], LABELS.index(tag)] = 10.0
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        for i in range(len(LABELS)):
            model.classifier.weight[i, i] = 2.0
        model.classifier.bias[LABELS.index("O")] = 4.0
    model.save_pretrained(directory)
    return directory
