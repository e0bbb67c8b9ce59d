#!/usr/bin/env bash
# Seeds the fuzzers' corpora (ignored folders). The token fuzzer's with:
# - the real tokens in ../shared/testdata, read in place and copied only into the corpus
#   (never committed);
# - the encoder-made tokens committed in seeds/token_parse (regenerate them with
#   `cargo run -p cca-token --features sign --example fuzz_seeds -- fuzz/seeds/token_parse`).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/token_parse
for f in ../../shared/testdata/veraison/*.cbor ../../shared/testdata/tf-rmm/*/*/token.cbor; do
    [ -f "$f" ] && cp "$f" "corpus/token_parse/testdata$(echo "${f#../../shared/testdata}" | tr '/.' '__')"
done
cp seeds/token_parse/*.cbor corpus/token_parse/
ls corpus/token_parse | wc -l
# The appraisal-policy fuzzer's with the committed policy files in seeds/appraisal_policy.
mkdir -p corpus/appraisal_policy
cp seeds/appraisal_policy/*.json corpus/appraisal_policy/
ls corpus/appraisal_policy | wc -l
# The key-release decoders' with the hand-made messages in seeds/key_release.
mkdir -p corpus/key_release
cp seeds/key_release/* corpus/key_release/
# The inference formats' with the committed digits model (realm-inference/data, read in place).
mkdir -p corpus/inference_formats
cp ../realm-inference/data/digits/model.qmlp corpus/inference_formats/model.qmlp
ls corpus/inference_formats | wc -l
