#!/usr/bin/env bash
# One virtual environment per compared library (their pins differ from each other and from
# ner_bert's: spacy-transformers, Flair and SpanMarker need transformers 4.x), under
# benchmark-runs/compare/venv-<library>. torch is installed first and pinned so that pip takes
# the CPU wheel and never replaces it with a CUDA build.
#
#   bash benchmarks/compare/setup.sh                 # all four
#   bash benchmarks/compare/setup.sh flair gliner    # some
set -euo pipefail
cd "$(dirname "$0")/../.."
libraries=("$@")
[ ${#libraries[@]} -gt 0 ] || libraries=(spacy_transformers flair span_marker gliner)
for library in "${libraries[@]}"; do
    venv="benchmark-runs/compare/venv-$library"
    echo "== $library -> $venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q torch==2.13.0
    "$venv/bin/pip" install -q -r "benchmarks/compare/requirements-$library.txt" \
        -c <(echo torch==2.13.0)
done
