"""Raw text as accurate as words: a model trained on corpus-style words (``U.K.``,
``U.S.-based``, ``( IAEA )``, ``Iran 's``) finds whole entities in naturally written text, with
exact offsets, through every text path; models saved before still load and predict."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import tiny_models

from ner_bert import NERPredictor, PredictionConfig, TaggedSentence, TrainingConfig
from ner_bert.model.files import METADATA_FILE
from ner_bert.subwords.encoding import TextEncoder
from ner_bert.subwords.segmentation import Segmentation
from ner_bert.training.trainer import NERTrainer

# Corpus words (one tuple per mention) and their tags, CoNLL style.
MENTIONS = [
    (("U.K.",), ("B-LOC",)),
    (("U.S.-based",), ("B-MISC",)),
    (("Al-Ahly",), ("B-ORG",)),
    (("(", "IAEA", ")"), ("O", "B-ORG", "O")),
    (("Iran", "’s"), ("B-LOC", "O")),
    (("Iran", "'s"), ("B-LOC", "O")),
    (("www.reuters.com",), ("B-ORG",)),
    (("John", "Smith"), ("B-PER", "I-PER")),
    (("Paris",), ("B-LOC",)),
]
# Whole vocabulary pieces for the words inside the mentions, so a tiny encoder learns fast.
PIECES = ("uk", "based", "al", "ahly", "iaea", "iran", "www", "com", "mail")
FILLERS = ["the", "a", "said", "visited", "today", "with", "from", "e-mail", "1-0", ",", "."]

TEXTS = [
    ("John Smith visited the U.K. today.", [("PER", "John Smith"), ("LOC", "U.K.")]),
    ("A U.S.-based e-mail from Al-Ahly, 1-0.", [("MISC", "U.S.-based"), ("ORG", "Al-Ahly")]),
    (
        "The agency (IAEA) visited Iran’s Paris.",
        [("ORG", "IAEA"), ("LOC", "Iran"), ("LOC", "Paris")],
    ),
    ("Iran's e-mail said www.reuters.com today.", [("LOC", "Iran"), ("ORG", "www.reuters.com")]),
]


def corpus(n: int, seed: int) -> list[TaggedSentence]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words: list[str] = []
        tags: list[str] = []
        for _ in range(rng.randint(3, 20)):
            if rng.random() < 0.35:
                mention, mention_tags = rng.choice(MENTIONS)
                words += mention
                tags += mention_tags
            else:
                words.append(rng.choice(FILLERS))
                tags.append("O")
        out.append(TaggedSentence(words, tags))
    return out


def found(entities: list, text: str) -> list[tuple[str, str]]:
    for e in entities:
        assert text[e.start : e.end] == e.text
    return [(e.label, e.text) for e in entities]


def train_tiny(directory: Path, **options: object) -> Path:
    """A tiny encoder fine-tuned with NERTrainer on the corpus-style task, saved."""
    encoder = tiny_models.build_tiny_encoder(directory / "encoder", hidden=64, extra_words=PIECES)
    config = TrainingConfig(
        epochs=6,
        learning_rate=3e-3,
        batch_size=16,
        progress_bar=False,
        mixed_precision="no",
        **options,  # type: ignore[arg-type]
    )
    trainer = NERTrainer(encoder, config=config)
    result = trainer.train(corpus(500, 0), eval=corpus(100, 1))
    assert result.best_f1 is not None and result.best_f1 >= 0.9
    trainer.save(directory / "model")
    return directory / "model"


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained with NERTrainer's defaults (every subword labelled)."""
    return train_tiny(tmp_path_factory.mktemp("raw_text"))


@pytest.fixture(scope="module")
def first_subword_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained on first subwords only, with ner_bert.json as ner_bert 0.x wrote it."""
    path = train_tiny(tmp_path_factory.mktemp("raw_text_first"), label_all_subwords=False)
    metadata = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    keys = ("labels", "max_length", "stride", "context_size", "base_model", "training_config")
    previous = {key: metadata[key] for key in keys if key in metadata}
    previous.update(label_all_subwords=False, aggregation="first")
    (path / METADATA_FILE).write_text(json.dumps(previous), encoding="utf-8")
    return path


def test_whole_entities_with_exact_offsets_from_natural_text(trained_dir: Path) -> None:
    predictor = NERPredictor.from_pretrained(trained_dir)
    texts = [text for text, _ in TEXTS]
    by_predict = predictor.predict(texts)
    by_stream = list(predictor.predict_stream(iter(texts)))
    by_documents = predictor.predict_documents([texts])[0]
    for (text, expected), a, b, c in zip(TEXTS, by_predict, by_stream, by_documents, strict=True):
        assert found(a, text) == expected
        assert found(b, text) == expected
        assert found(c, text) == expected
        assert found(predictor.predict_text(text), text) == expected


def test_text_offsets_when_the_texts_are_one_document(trained_dir: Path) -> None:
    predictor = NERPredictor.from_pretrained(trained_dir)
    article = "\n".join(text for text, _ in TEXTS)
    expected = [entity for _, entities in TEXTS for entity in entities]
    assert found(predictor.predict_text(article), article) == expected


def test_tokenizer_words_split_what_the_corpus_keeps_whole(trained_dir: Path) -> None:
    """The two segmentations of one text: treebank words are the corpus's words, the
    pre-tokenizer's split every punctuation mark off ("U", ".", "K", ".")."""
    from transformers import AutoTokenizer

    encoder = TextEncoder(AutoTokenizer.from_pretrained(trained_dir), max_length=32)
    text = "the U.K. and (IAEA)"
    tokenizer_words = encoder.encode_texts([text], segmentation=Segmentation.TOKENIZER)[0]
    treebank_words = encoder.encode_texts([text], segmentation=Segmentation.TREEBANK)[0]
    treebank = [text[a:b] for a, b in treebank_words.word_spans]
    assert treebank == ["the", "U.K.", "and", "(", "IAEA", ")"]
    assert [text[a:b] for a, b in tokenizer_words.word_spans][:5] == ["the", "U", ".", "K", "."]


def test_a_model_saved_by_the_previous_version_loads_and_predicts(
    first_subword_dir: Path,
) -> None:
    """A first-subword model of ner_bert 0.x gets treebank words and sentence-by-sentence
    reading too: whole entities from natural text; segmentation="tokenizer" is still there."""
    predictor = NERPredictor.from_pretrained(first_subword_dir)
    assert predictor.config.segmentation == "treebank"
    assert predictor.config.aggregation == "first"
    for text, expected in TEXTS:
        assert found(predictor.predict_text(text), text) == expected
    old = NERPredictor.from_pretrained(
        first_subword_dir, config=PredictionConfig(segmentation="tokenizer")
    )
    text = TEXTS[0][0]
    assert all(e.text == text[e.start : e.end] for e in old.predict_text(text))


def test_the_default_training_labels_every_subword(trained_dir: Path) -> None:
    metadata = json.loads((trained_dir / METADATA_FILE).read_text(encoding="utf-8"))
    assert metadata["label_all_subwords"] is True
    assert NERPredictor.from_pretrained(trained_dir).config.aggregation == "first"
