#!/usr/bin/env bash
# Seeds each fuzz target's corpus from the recorded provider fixtures.
# Usage: fuzz/seed-corpus.sh PATH/TO/shared/fixtures/recorded
set -euo pipefail
cd "$(dirname "$0")"
fixtures=${1:?usage: seed-corpus.sh FIXTURES_DIR}
seed() { # target file...
    local target=$1; shift
    mkdir -p "corpus/$target"
    for f in "$@"; do
        [ -f "$f" ] || continue
        local name; name=$(basename "$f")
        case "$f" in
            *.chunks.txt) { printf '\x10'; sed 's/^/data: /; s/$/\n/' "$f"; } > "corpus/$target/$name" ;;
            *) { printf '\x10'; cat "$f"; } > "corpus/$target/$name" ;;
        esac
    done
}
seed sse "$fixtures"/*/*.txt "$fixtures"/*/*.bin "$fixtures"/*/*.sse
seed anthropic_stream "$fixtures"/anthropic/*.txt "$fixtures"/anthropic/*.json
seed openai_chat_stream "$fixtures"/openai-chat/*.bin "$fixtures"/openai-chat/*.txt \
    "$fixtures"/openai-compatible/*.sse "$fixtures"/openai-compatible/*.txt "$fixtures"/mistral/*.txt
seed openai_responses_stream "$fixtures"/openai-responses/*.txt "$fixtures"/openai-compatible/lmstudio*.txt
seed gemini_stream "$fixtures"/google/*.txt "$fixtures"/google/*.json
mkdir -p corpus/model_catalog
cp ../proto/src/model/catalog.json corpus/model_catalog/builtin.json
printf '{"data":[{"id":"gpt-5"}],"models":[{"name":"models/x"}]}' > corpus/model_catalog/list
mkdir -p corpus/http_response corpus/http_request
printf 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nTrailer: 1\r\n\r\n' > corpus/http_response/chunked
printf 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello' > corpus/http_response/continue
printf 'HTTP/1.0 200 OK\r\n\r\nclose-delimited body' > corpus/http_response/close
printf 'POST /sessions HTTP/1.1\r\nhost: 127.0.0.1:4096\r\ncontent-length: 2\r\n\r\n{}GET /health HTTP/1.1\r\nhost: x\r\n\r\n' > corpus/http_request/pipelined
printf 'POST /x HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nexpect: 100-continue\r\n\r\n3\r\nabc\r\n0\r\n\r\n' > corpus/http_request/chunked
