"""A small OpenAI-compatible chat-completions server (loopback, or another address of this machine
to play a remote one), for the openai writer's tests.

It speaks the protocol (POST /v1/chat/completions, GET /v1/models, usage, error bodies) and its
replies are chosen per test by a `reply(payload) -> (status, body)` function; it records every
request it receives.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_ID = "fake-host"
_HOSTS = re.compile(r"conversation between two hosts: (\w+) \(the main host.*?and (\w+) \(the co-host\)")
_DATA = re.compile(r"<listener_data>\n(.*)\n</listener_data>", re.S)


def segment_data(payload: dict) -> dict:
    """The data block of the segment being written (the last user turn with data, not a few-shot one)."""
    users = [m["content"] for m in payload["messages"] if m["role"] == "user" and _DATA.search(m["content"])]
    return json.loads(_DATA.search(users[-1]).group(1))


def good_draft(payload: dict) -> dict:
    """What a well-behaved host model would write: names the listener and the pick, within budget."""
    data = segment_data(payload)
    listener, pick = data["listener"], data["pick"]
    sentences = [f"Hello again, {listener['first_name']}.",
                 f"It is {listener['daypart']} and you said {listener['mood']}, so here is {pick['artist']}."]
    if pick["listener_track"]:
        track = pick["listener_track"]
        played = f"{track['plays']} times" if "plays" in track else "before"  # counts stay home (remote_share)
        sentences.append(f"You have played {track['title']} {played}, and it still lands.")
    sentences.append(f"There is a thread from {pick['artist']} to {data['next_artist']}, and it runs through {pick['genre']}.")
    fillers = ["Stay with me for a moment and listen closely to how the room breathes.",
               "Some records ask for your attention, and this one earns it.",
               "Turn it up a little, then a little more.",
               "There is no rush tonight, so let every note land where it wants to.",
               "I keep coming back to the space between the notes.",
               "You can hear the people in the room if you listen for them.",
               "That is the kind of detail that rewards a second listen."]
    words = sum(len(s.split()) for s in sentences)
    for filler in fillers:
        if words + len(filler.split()) > data["segment"]["word_limit"] * 0.8:
            break
        sentences.append(filler)
        words += len(filler.split())
    hosts = _HOSTS.search(payload["messages"][-1]["content"])
    if hosts:  # a two-host segment: the same sentences as alternating turns
        names = hosts.groups()
        return {"title": f"For {listener['first_name']}",
                "lines": [{"speaker": names[i % 2], "text": s} for i, s in enumerate(sentences)]}
    return {"title": f"For {listener['first_name']}", "text": " ".join(sentences)}


def completion(content: str, prompt_tokens: int = 100, completion_tokens: int = 50) -> dict:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": MODEL_ID,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def error(status: int, message: str) -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": "invalid_request_error", "code": None}}


class ChatServer:
    def __init__(self, reply, host: str = "127.0.0.1"):
        self.reply = reply
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body):
                data = json.dumps(body).encode() if not isinstance(body, (bytes, str)) else \
                    (body.encode() if isinstance(body, str) else body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): nothing to answer

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "test"}]})
                else:
                    self._send(*error(404, "not found"))

            def do_POST(self):
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(payload)
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                if not self.path.endswith("/chat/completions"):
                    self._send(*error(404, "not found"))
                    return
                self._send(*server.reply(payload))

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
