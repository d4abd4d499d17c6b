#!/usr/bin/env python3
"""A fake OpenAI-compatible server: /v1/chat/completions (SSE), /v1/models, as BACKENDS.md says.

Besides fakebase's behaviours: api_key (the key a request must bring, absent: none) and
usage_choices ("empty" → "choices": [] in the usage chunk, "null" → null).
"""

import json
import time

import fakebase

CREATED = 1700000000


def error_body(message, code, kind="invalid_request_error"):
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def chunk(model, delta, finish_reason=None):
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": CREATED,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


def completions(handler, body):
    body = body or {}
    behaviour = handler.state.take_chat_behaviour()
    key = behaviour.get("api_key")
    if key and handler.headers.get("Authorization") != f"Bearer {key}":
        return handler.send_json(401, error_body("Incorrect API key provided",
                                                 "invalid_api_key"))
    if behaviour["fail_status"]:
        error = behaviour["fail_body"] or error_body(behaviour["error_message"], "server_error",
                                                     "server_error")
        return handler.send_json(behaviour["fail_status"], error)
    models = behaviour["models"]
    model = body.get("model") or models[0]
    if model not in models:
        return handler.send_json(404, error_body(f"The model '{model}' does not exist",
                                                 "model_not_found"))
    tokens = behaviour["tokens"]
    usage = {"prompt_tokens": 31, "completion_tokens": len(tokens),
             "total_tokens": 31 + len(tokens)}
    if not body.get("stream"):
        return handler.send_json(200, {
            "id": "chatcmpl-1", "object": "chat.completion", "created": CREATED, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(tokens)},
                         "finish_reason": "stop"}],
            "usage": usage})

    handler.start_stream("text/event-stream")

    def event(data):
        handler.send_chunk("data: " + (data if isinstance(data, str) else json.dumps(data))
                           + "\n\n")

    def piece(i, token):
        delta = {"role": "assistant", "content": token} if i == 0 else {"content": token}
        event(chunk(model, delta))

    handler.send_chunk(": keep-alive comment\n\n")
    finished = fakebase.stream_pieces(
        handler, behaviour, piece,
        on_cut=handler.cut,
        on_error=lambda: (event(error_body(behaviour["error_message"], "server_error",
                                           "server_error")), handler.end_stream()),
        on_garbage=lambda: event("{this is not json"))
    if not finished:
        return
    event(chunk(model, {}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        choices = None if behaviour.get("usage_choices") == "null" else []
        event({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": CREATED,
               "model": model, "choices": choices, "usage": usage})
    event("[DONE]")
    handler.end_stream()


def models(handler, body):
    key = handler.state.peek("api_key")
    if key and handler.headers.get("Authorization") != f"Bearer {key}":
        return handler.send_json(401, error_body("Incorrect API key provided",
                                                 "invalid_api_key"))
    handler.send_json(200, {"object": "list", "data": [
        {"id": name, "object": "model", "created": CREATED, "owned_by": "fake"}
        for name in handler.state.peek("models")]})


if __name__ == "__main__":
    fakebase.serve({("POST", "/v1/chat/completions"): completions,
                    ("GET", "/v1/models"): models},
                   {"models": ["fake-model"], "api_key": None, "usage_choices": "empty"}, __doc__)
