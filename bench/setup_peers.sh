#!/usr/bin/env bash
# A separate venv for the peers we measure against (datatrove, rensa, datasketch, sentencepiece),
# so their pins never touch Yuliao's own environment.  Usage: bash bench/setup_peers.sh [DIR]
set -euo pipefail
dir=${1:-../peers}
python3 -m venv "$dir"
"$dir/bin/pip" install -q datatrove faust-cchardet python-magic trafilatura warcio orjson lxml_html_clean spacy rensa datasketch sentencepiece tokenizers
echo "peers venv: $dir/bin/python"
