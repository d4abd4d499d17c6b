#!/bin/sh
# SmartRAG's HTTP API with curl, step by step: session, document, question, conversation.
#
# Over the user daemon's Unix socket no token is needed. For TCP, make a token
#   busctl --user call org.smartrag.Daemon /org/smartrag/Daemon org.smartrag.Daemon CreateToken s curl
# and run with SMARTRAG_TOKEN=srt_… SMARTRAG_URL=http://127.0.0.1:8765.
# Needs curl and python3 (to read JSON); FILE is any text, Markdown, HTML, PDF, DOCX,
# ODT or EPUB document.
set -eu
FILE=${1:?usage: curl-walkthrough.sh FILE [QUESTION]}
QUESTION=${2:-What is this document about?}
SOCK=${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/smartrag/http.sock

api() { # METHOD PATH [curl arguments…]
  method=$1 path=$2
  shift 2
  if [ -n "${SMARTRAG_TOKEN:-}" ]; then
    curl -sS --fail-with-body -X "$method" -H "Authorization: Bearer $SMARTRAG_TOKEN" \
      "${SMARTRAG_URL:-http://127.0.0.1:8765}$path" "$@"
  else
    curl -sS --fail-with-body -X "$method" --unix-socket "$SOCK" "http://localhost$path" "$@"
  fi
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
# The question goes into JSON through python3, which escapes its quotes and backslashes.
question_json() {
  python3 -c 'import json,sys; print(json.dumps({"session_id": sys.argv[1], "query": sys.argv[2]}))' \
    "$SESSION" "$QUESTION"
}

echo "== health"
api GET /health | field '["status"]'

echo "== a session"
SESSION=$(api POST /api/v1/sessions -H 'Content-Type: application/json' \
  -d '{"title": "curl walkthrough"}' | field '["session_id"]')
echo "$SESSION"

echo "== the document, uploaded as multipart/form-data"
DOC=$(api POST /api/v1/documents/upload -F "session_id=$SESSION" -F "file=@$FILE" |
  field '["document_id"]')
until STATE=$(api GET "/api/v1/documents/$DOC" | field '["state"]') &&
  [ "$STATE" = ready ] || [ "$STATE" = failed ]; do sleep 0.2; done
echo "$DOC is $STATE"

echo "== the answer, whole"
api POST /api/v1/query -H 'Content-Type: application/json' -d "$(question_json)" |
  field '["answer"]'

echo "== the answer again, streamed as server-sent events"
api POST /api/v1/query/stream -N -H 'Content-Type: application/json' -d "$(question_json)"

echo "== the conversation, searched and exported"
api GET "/api/v1/sessions/$SESSION/messages" | field '["messages"].__len__()'
api GET "/api/v1/sessions/$SESSION/export?format=markdown"
