#!/usr/bin/python3
"""Streams an answer over SmartRAG's WebSocket, token by token, then prints its sources.

Needs python3-websockets (Debian). It speaks to the loopback port, so it takes a token
made with CreateToken (the Unix socket serves WebSockets too, without a token, for
clients that can connect to one). Usage:

    SMARTRAG_TOKEN=srt_… ws_client.py SESSION_ID "QUESTION"

SMARTRAG_URL names the daemon as for the other examples (http://127.0.0.1:8765 unless set).
Ctrl-C sends {"type": "cancel"}: the daemon stops the answer and keeps what was said.
"""

import asyncio
import json
import os
import sys

import websockets


async def ask(url, token, session_id, question):
    headers = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(f"{url}/ws/query/{session_id}",
                                  extra_headers=headers) as ws:
        await ws.send(json.dumps({"query": question}))
        try:
            async for raw in ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "chunk":
                    print(message["content"], end="", flush=True)
                elif kind == "sources":
                    sources = message["sources"]
                elif kind == "done":
                    print()
                    for number, source in enumerate(sources, 1):
                        print(f"[{number}] {source['filename']}")
                    return 0
                elif kind == "error":
                    print(f"\n{message['error']}: {message['message']}", file=sys.stderr)
                    return 1
        except asyncio.CancelledError:
            await ws.send(json.dumps({"type": "cancel"}))
            raise
    return 1


def main():
    if len(sys.argv) != 3 or "SMARTRAG_TOKEN" not in os.environ:
        sys.exit(__doc__)
    base = os.environ.get("SMARTRAG_URL", "http://127.0.0.1:8765").rstrip("/")
    url = "ws" + base[len("http"):] if base.startswith("http") else base
    try:
        sys.exit(asyncio.run(ask(url, os.environ["SMARTRAG_TOKEN"], sys.argv[1], sys.argv[2])))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
