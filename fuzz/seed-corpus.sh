#!/usr/bin/env bash
# Seeds the token fuzzer's corpus with the real tokens in ../shared/testdata (read in
# place, copied only into the ignored corpus folder) and the tokens the tests make.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/token_parse
for f in ../../shared/testdata/veraison/*.cbor ../../shared/testdata/tf-rmm/*/*/token.cbor; do
    [ -f "$f" ] && cp "$f" "corpus/token_parse/$(echo "$f" | tr '/.' '__')"
done
ls corpus/token_parse | wc -l
