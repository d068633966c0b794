"""A small OpenAI-compatible fake server for testing `inferd bench`.

Standard library only (http.server, threaded). It answers GET /v1/models and
POST /v1/chat/completions, streaming deterministic chunks: a role-only chunk at
once (TTFT must not stop there), the first content chunk after `first_delay`
seconds, one more every `token_delay` seconds, a finish chunk, the usage chunk
when stream_options.include_usage is set, then `data: [DONE]`. Replies use
HTTP/1.1 chunked encoding so that connections are kept alive, and TCP_NODELAY
so that each chunk leaves when it is written.

Misbehaviour is asked for per request, by markers anywhere in the messages:
  [[fail:CODE]]      answer HTTP CODE with an OpenAI-shaped error body
  [[malformed]]      one chunk is not valid JSON
  [[close]]          close the connection abruptly after two content chunks
  [[nodone]]         end the response cleanly but without data: [DONE]
  [[nousage]]        never send the usage chunk
  [[error_event]]    send {"error": {...}} inside the stream, then [DONE]
  [[slow_first:S]]   the first content chunk comes after S seconds
  [[tokens:N]]       N completion tokens (still capped by max_tokens)
  [[hang:S]]         sleep S seconds before answering at all
  [[json]]           answer a non-streamed JSON completion instead of SSE
  [[empty]]          stream no content at all (finish, usage, [DONE])
  [[crlf]]           end SSE lines with CRLF
  [[split]]          write the SSE bytes in 3-byte pieces
  [[comments]]       add ": keep-alive" comment lines between events
  [[multiline]]      spread each chunk's JSON over several data: lines

prompt_tokens is the number of whitespace-separated words of every message
plus 3 per message; completion tokens are "w0 ", "w1 ", ..., one per chunk.

Use in-process (FakeServer(...).start(); .url; .stop()) or from a shell:
  python fake_openai_server.py --port 8099 --first-delay 0.1 --token-delay 0.02
"""
import argparse
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MARK = re.compile(r"\[\[(\w+)(?::([0-9.]+))?\]\]")


def _text_of(messages):
    out = []
    for m in messages if isinstance(messages, list) else []:
        c = m.get("content") if isinstance(m, dict) else None
        if isinstance(c, str):
            out.append(c)
        elif isinstance(c, list):
            out.extend(p.get("text", "") for p in c if isinstance(p, dict))
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # keep pytest output clean
        pass

    # -- helpers ---------------------------------------------------------
    def _json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, code, message):
        self._json(code, {"error": {"message": message, "type": "fake_error", "param": None,
                                    "code": code}})

    def _chunk(self, data: bytes):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _authorized(self):
        key = self.server.fake.api_key
        return key is None or self.headers.get("Authorization") == f"Bearer {key}"

    # -- routes ----------------------------------------------------------
    def do_GET(self):
        fake = self.server.fake
        if not self._authorized():
            return self._error(401, "invalid API key")
        if self.path.rstrip("/") == "/v1/models":
            return self._json(200, {"object": "list", "data": [
                {"id": fake.model, "object": "model", "owned_by": "fake"},
                {"id": fake.model + "-other", "object": "model", "owned_by": "fake"}]})
        self._error(404, f"no route {self.path}")

    def do_POST(self):
        fake = self.server.fake
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._error(404, f"no route {self.path}")
        try:
            body = json.loads(raw)
        except ValueError:
            return self._error(400, "invalid JSON body")
        with fake.lock:
            fake.requests.append({"body": body, "auth": self.headers.get("Authorization"),
                                  "expect": self.headers.get("Expect")})
            fake.inflight += 1
            fake.max_inflight = max(fake.max_inflight, fake.inflight)
        try:
            self._complete(fake, body)
        finally:
            with fake.lock:
                fake.inflight -= 1

    def _complete(self, fake, body):
        texts = _text_of(body.get("messages"))
        marks = {}
        for t in texts:
            for name, val in MARK.findall(t):
                marks[name] = val
        if "hang" in marks:
            time.sleep(float(marks["hang"] or 1))
        if not self._authorized():
            return self._error(401, "invalid API key")
        if "fail" in marks:
            code = int(float(marks["fail"] or 500))
            return self._error(code, f"fake failure {code}")
        max_tokens = body.get("max_tokens") or 16
        n_tok = min(int(float(marks.get("tokens") or fake.tokens)), int(max_tokens))
        if "empty" in marks:
            n_tok = 0
        prompt_tokens = sum(len(t.split()) for t in texts) + 3 * len(texts)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": n_tok,
                 "total_tokens": prompt_tokens + n_tok}
        first_delay = float(marks["slow_first"]) if "slow_first" in marks else fake.first_delay
        if "json" in marks:
            time.sleep(first_delay)
            return self._json(200, {"id": "fake", "object": "chat.completion", "model": fake.model,
                                    "choices": [{"index": 0, "finish_reason": "length", "message": {
                                        "role": "assistant",
                                        "content": "".join(f"w{i} " for i in range(n_tok))}}],
                                    "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        eol = "\r\n" if "crlf" in marks else "\n"

        def event(obj_or_text):
            text = obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text)
            if "multiline" in marks and text.startswith("{"):
                # JSON allows a line break between tokens: split after each comma.
                lines = text.replace(", ", ",\n").split("\n")
            else:
                lines = [text]
            out = "".join(f"data: {ln}{eol}" for ln in lines) + eol
            if "comments" in marks:
                out = f": keep-alive{eol}" + out
            data = out.encode()
            if "split" in marks:
                for i in range(0, len(data), 3):
                    self._chunk(data[i:i + 3])
                    time.sleep(0.0005)
            else:
                self._chunk(data)

        def chunk(delta, finish=None):
            return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                    "model": fake.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        event(chunk({"role": "assistant", "content": ""}))
        for i in range(n_tok):
            time.sleep(first_delay if i == 0 else fake.token_delay)
            if "malformed" in marks and i == 1:
                event('{"id": "chatcmpl-fake", "choices": [{"delta": {"content": "w1 "')
                continue
            if "error_event" in marks and i == 1:
                event({"error": {"message": "fake error inside the stream", "type": "fake"}})
                continue
            event(chunk({"content": f"w{i} "}))
            if "close" in marks and i == 1:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
        event(chunk({}, "length" if n_tok == max_tokens else "stop"))
        opts = body.get("stream_options") or {}
        if opts.get("include_usage") and "nousage" not in marks:
            event({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": fake.model,
                   "choices": [], "usage": usage})
        if "nodone" not in marks:
            event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 drops SYNs at high concurrency (1 s retries)


class FakeServer:
    """The fake on 127.0.0.1 (port 0 = any free port), served by a daemon thread."""

    def __init__(self, port=0, model="fake-model", first_delay=0.05, token_delay=0.01, tokens=8,
                 api_key=None):
        self.model = model
        self.first_delay = first_delay
        self.token_delay = token_delay
        self.tokens = tokens
        self.api_key = api_key
        self.lock = threading.Lock()
        self.requests = []
        self.inflight = 0
        self.max_inflight = 0
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.fake = self
        self._thread = None

    @property
    def port(self):
        return self._httpd.server_address[1]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.max_inflight = 0

    def start(self):
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--model", default="fake-model")
    ap.add_argument("--first-delay", type=float, default=0.05)
    ap.add_argument("--token-delay", type=float, default=0.01)
    ap.add_argument("--tokens", type=int, default=8)
    ap.add_argument("--api-key")
    a = ap.parse_args()
    srv = FakeServer(a.port, a.model, a.first_delay, a.token_delay, a.tokens, a.api_key)
    print(f"listening on {srv.url}", flush=True)
    try:
        srv._httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
