#!/bin/bash
# The fine-tuning comparison behind benchmarks/results/train_conll.json: the run_ner.py
# reference once, then ner_bert sentence by sentence and with document context, seeds 42-44,
# each run a fresh process; then combine_train_conll.py. About 2 hours on 2 CPU cores.
# A finished run is not repeated, so the script can be restarted after an interruption.
#   usage: bash benchmarks/train_conll_seeds.sh [RUNS_DIR]   (default: benchmark-runs/)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-benchmark-runs}
mkdir -p "$RUNS"
BENCH="flock /tmp/ner_bert_bench.lock .venv/bin/python benchmarks/train_conll.py"
run() {
    local name=$1
    shift
    [ -f "$RUNS/$name.json" ] && return
    $BENCH "$@" --results "$RUNS/$name.json.tmp" > "$RUNS/$name.log" 2>&1
    mv "$RUNS/$name.json.tmp" "$RUNS/$name.json"
}
for seed in 42 43 44; do
    run "context$seed" --skip-reference --seed "$seed" --context-size 64 --batch-size 12 \
        --output-model "$RUNS/model-context$seed"
    run "sentence$seed" --skip-reference --seed "$seed" --output-model "$RUNS/model-sentence$seed"
    [ "$seed" = 42 ] && run reference --skip-ner-bert
done
.venv/bin/python benchmarks/combine_train_conll.py "$RUNS"/*.json
