# ner_bert developer entry points. `make test` and `make demo` work on a fresh machine:
# they create .venv and install everything they need (torch pinned to the CPU wheel).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PIN ?= torch==2.13.0
NER_BERT_DATA ?= ../shared/data/conll2003
DEMO_OUT ?= demo-output
DEMO_ARGS ?=
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install test lint typecheck pytest slow demo docs bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_PIN)"
	$(PY) -m pip install -q -e ".[spacy,docs,dev,plot,ray,spark,onnx]" "$(TORCH_PIN)"
	touch $@

install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src

typecheck: install
	$(VENV)/bin/mypy

## One test process per core (at most 4), each module's tests in one process so that its
## fixtures are built once; conftest.py gives each process one torch thread.
PYTEST_WORKERS ?= $(shell $(PYTHON) -c "import os; n = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count(); print(min(4, n or 1))")

pytest: install
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

## The README's test command: lint, types, the test suite.
test: lint typecheck pytest

## Opt-in slow tests: real MiniLM encoder, real CoNLL-2003.
slow: install
	NER_BERT_SLOW=1 $(PY) -m pytest -q -m slow

## The README's main job: install, fine-tune, evaluate, predict.
demo: install
	$(PY) examples/demo.py --data "$(NER_BERT_DATA)" --output "$(DEMO_OUT)" $(DEMO_ARGS)

docs: install
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) docs/_build .pytest_cache .mypy_cache .ruff_cache
