from transformers import AutoModelForTokenClassification, AutoTokenizer


def test_tiny_model_loads_offline(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForTokenClassification.from_pretrained(tiny_model_dir)
    assert tok.is_fast
    assert model.config.id2label[7] == "B-PER"
    enc = tok(["John", "Smithers"], is_split_into_words=True)
    assert enc.word_ids()[1:-1][0] == 0 and enc.word_ids()[-2] == 1


def test_bpe_tokenizer_prefix_space(bpe_tokenizer):
    enc = bpe_tokenizer(["john", "lives"], is_split_into_words=True)
    assert bpe_tokenizer.is_fast
    assert set(w for w in enc.word_ids() if w is not None) == {0, 1}
