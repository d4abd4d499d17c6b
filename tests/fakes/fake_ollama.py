#!/usr/bin/env python3
"""A fake Ollama: /api/chat (NDJSON stream), /api/tags, /api/version, as BACKENDS.md says."""

import json
import time

import fakebase

CREATED_AT = "2024-08-01T12:00:00Z"


def has_model(models, name):
    if ":" not in name:
        name += ":latest"
    return name in models


def chat(handler, body):
    body = body or {}
    state = handler.state
    behaviour = state.take_chat_behaviour()
    model = body.get("model", "")
    if behaviour["fail_status"]:
        error = behaviour["fail_body"] or {"error": behaviour["error_message"]}
        return handler.send_json(behaviour["fail_status"], error)
    if not has_model(behaviour["models"], model):
        return handler.send_json(404, {"error": f"model '{model}' not found, "
                                                "try pulling it first"})
    if not body.get("messages"):
        # An empty conversation loads the model.
        return handler.send_json(200, {"model": model, "created_at": CREATED_AT,
                                       "message": {"role": "assistant", "content": ""},
                                       "done_reason": "load", "done": True})
    tokens = behaviour["tokens"]
    if body.get("stream", True) is False:
        return handler.send_json(200, done_line(model, "".join(tokens), len(tokens)))

    started = time.monotonic_ns()
    handler.start_stream("application/x-ndjson")

    def line(obj):
        handler.send_chunk(json.dumps(obj) + "\n")

    def piece(i, token):
        line({"model": model, "created_at": CREATED_AT,
              "message": {"role": "assistant", "content": token}, "done": False})

    finished = fakebase.stream_pieces(
        handler, behaviour, piece,
        on_cut=handler.cut,
        on_error=lambda: (line({"error": behaviour["error_message"]}), handler.end_stream()),
        on_garbage=lambda: handler.send_chunk("this is not json\n"))
    if not finished:
        return
    last = done_line(model, "", len(tokens))
    last["total_duration"] = time.monotonic_ns() - started
    line(last)
    handler.end_stream()


def done_line(model, content, count):
    return {"model": model, "created_at": CREATED_AT,
            "message": {"role": "assistant", "content": content}, "done_reason": "stop",
            "done": True, "total_duration": 4883583458, "load_duration": 1334875,
            "prompt_eval_count": 26, "prompt_eval_duration": 342546000,
            "eval_count": count, "eval_duration": 4535599000}


def tags(handler, body):
    behaviour = handler.state.peek("models")
    handler.send_json(200, {"models": [
        {"name": name, "model": name, "size": 2019393189, "digest": "0" * 64,
         "details": {"format": "gguf", "family": "llama"}} for name in behaviour]})


def version(handler, body):
    handler.send_json(200, {"version": "0.5.0-fake"})


if __name__ == "__main__":
    fakebase.serve({("POST", "/api/chat"): chat, ("GET", "/api/tags"): tags,
                    ("GET", "/api/version"): version},
                   {"models": ["llama3.2:latest"]}, __doc__)
