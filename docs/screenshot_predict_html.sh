#!/bin/bash
# docs/_static/predict_html.png: `ner-bert predict --html` of five sentences, photographed in
# headless Chromium (apt-get install chromium).
#   usage: bash docs/screenshot_predict_html.sh MODEL_DIR   (e.g. the model `make demo` trains)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:?usage: $0 MODEL_DIR}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/news.txt" <<'TEXT'
Ada Lovelace worked with Charles Babbage in London on the Analytical Engine.
The U.S.-based company signed a deal with Siemens AG in Munich on Tuesday.
Iran's foreign minister met officials of the IAEA (International Atomic Energy Agency) in Vienna.
Manchester United beat Al-Ahly 2-1 in the final of the UEFA Cup.
German Chancellor Helmut Kohl said the European Union would reply to Washington.
TEXT
NER_BERT=$(pwd)/.venv/bin/ner-bert
MODEL=$(realpath "$MODEL")
(cd "$WORK" && "$NER_BERT" predict --model "$MODEL" news.txt --html page.html > /dev/null)
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,900 \
    --screenshot="docs/_static/predict_html.png" "file://$WORK/page.html"
echo "wrote docs/_static/predict_html.png"
