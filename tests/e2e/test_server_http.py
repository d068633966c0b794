"""`inferd serve` at the HTTP level: SSE framing, headers, every error status,
malformed bodies, slow and vanishing clients, metrics, graceful shutdown, and a
bounded load run with random disconnects (loopback only)."""
import json
import os
import random
import signal
import socket
import threading
import time

import pytest
import requests

from conftest import run_inferd
from serverproc import Server


@pytest.fixture(scope="module")
def server(inferd_bin, tiny_model):
    s = Server(inferd_bin, tiny_model, "--max-body-bytes", str(1 << 20), "--max-queue", "4",
               "--max-num-seqs", "8", "--kv-cache-bytes", str(64 << 20))
    yield s
    assert s.stop() == 0


def chat(url, body, **kw):
    return requests.post(url + "/v1/chat/completions", json=body, timeout=60, **kw)


BODY = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 8, "temperature": 0}


def test_sse_framing_and_headers(server):
    r = chat(server.url, {**BODY, "stream": True, "stream_options": {"include_usage": True}},
             stream=True)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    assert r.headers.get("Cache-Control") == "no-cache"
    raw = r.raw.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == ""  # every event ends with a blank line
    events = events[:-1]
    assert all(e.startswith("data: ") and "\n" not in e for e in events)
    assert events[-1] == "data: [DONE]"
    objs = [json.loads(e[6:]) for e in events[:-1]]
    assert objs[-1]["choices"] == [] and objs[-1]["usage"]["completion_tokens"] > 0
    assert all(o["object"] == "chat.completion.chunk" for o in objs)
    assert len({o["id"] for o in objs}) == 1
    assert objs[-2]["choices"][0]["finish_reason"] in ("stop", "length")


def expect_error(r, status, param=None):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["message"]
    if param:
        assert err["param"] == param
    return err


@pytest.mark.parametrize("body,param", [
    ({"messages": "hi"}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": [{"content": "no role"}]}, "messages"),
    ({**BODY, "max_tokens": 0}, "max_tokens"),
    ({**BODY, "max_tokens": 10**12}, "max_tokens"),
    ({**BODY, "temperature": -1}, "temperature"),
    ({**BODY, "temperature": "1"}, "temperature"),
    ({**BODY, "top_p": 0}, "top_p"),
    ({**BODY, "n": 1000}, "n"),
    ({**BODY, "stop": 5}, "stop"),
    ({**BODY, "logit_bias": {"notanid": 1}}, "logit_bias"),
    ({**BODY, "logit_bias": {"5": 1000}}, "logit_bias"),
    ({**BODY, "stream": "yes"}, "stream"),
    ({**BODY, "seed": 1.5}, "seed"),
    ({**BODY, "top_logprobs": 3}, "top_logprobs"),
])
def test_bad_parameters_are_400(server, body, param):
    expect_error(chat(server.url, body), 400, param)


@pytest.mark.parametrize("data", [
    b'{"messages": [',                                   # truncated
    b'[' * 100000 + b']' * 100000,                       # deep nesting
    b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}',  # invalid UTF-8
    b'{"max_tokens": 1' + b'0' * 400 + b'}',             # huge number
    b'',                                                 # empty
    b'"just a string"',
])
def test_malformed_bodies_are_400(server, data):
    r = requests.post(server.url + "/v1/chat/completions", data=data, timeout=30,
                      headers={"Content-Type": "application/json"})
    expect_error(r, 400)


def test_unknown_fields_are_ignored(server):
    assert chat(server.url, {**BODY, "frobnicate": {"x": 1}, "user": "u1"}).status_code == 200


def test_body_too_large_is_413(server):
    big = b'{"messages": [{"role": "user", "content": "' + b"a" * (10 << 20) + b'"}]}'
    r = requests.post(server.url + "/v1/chat/completions", data=big, timeout=60)
    expect_error(r, 413)


def test_prompt_longer_than_context_is_400(server):
    r = requests.post(server.url + "/v1/completions", timeout=30,
                      json={"prompt": list(range(3, 50)) * 1000, "max_tokens": 2})
    err = expect_error(r, 400)
    assert "context" in err["message"]


def test_unknown_route_and_method(server):
    expect_error(requests.get(server.url + "/v2/everything", timeout=10), 404)
    expect_error(requests.get(server.url + "/v1/chat/completions", timeout=10), 405)


def test_queue_full_is_429(server):
    # max-num-seqs 8 + max-queue 4: a burst of long requests overflows the queue.
    body = {**BODY, "max_tokens": 200, "ignore_eos": True}
    results = []

    def one():
        results.append(chat(server.url, body).status_code)
    threads = [threading.Thread(target=one) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 429 in results and 200 in results
    assert set(results) <= {200, 429}


def test_tokenize_detokenize(server):
    r = requests.post(server.url + "/tokenize", json={"prompt": "hello world"}, timeout=10).json()
    assert r["count"] == len(r["tokens"]) > 0 and r["max_model_len"] > 0
    back = requests.post(server.url + "/detokenize", json={"tokens": r["tokens"]}, timeout=10).json()
    assert back["prompt"] == "hello world"
    expect_error(requests.post(server.url + "/detokenize", json={"tokens": [-1]}, timeout=10), 400)
    m = requests.post(server.url + "/tokenize", json={"messages": BODY["messages"]}, timeout=10).json()
    assert m["count"] > r["count"]  # the chat template adds its markup


def blocks_settle(server, timeout=10):
    """Waits until no KV block is owned; returns the last reading."""
    deadline = time.time() + timeout
    while True:
        used = server.metric("inferd:kv_blocks_used")
        if used == 0 or time.time() > deadline:
            return used
        time.sleep(0.1)


@pytest.fixture(scope="module")
def long_server(inferd_bin, tmp_path_factory):
    """A model with a long context, so that a request can outlive its client."""
    path = tmp_path_factory.mktemp("models") / "longctx.gguf"
    run_inferd(inferd_bin, "synth", "--preset", "tiny", "--dims", "ctx=8192", "-o", path)
    s = Server(inferd_bin, path, "--kv-cache-bytes", str(256 << 20))
    yield s
    assert s.stop() == 0


@pytest.mark.parametrize("stream", [True, False])
def test_abrupt_disconnect_cancels_and_frees_blocks(long_server, stream):
    server = long_server
    body = json.dumps({**BODY, "max_tokens": 8000, "ignore_eos": True, "stream": stream}).encode()
    cancelled = server.metric("inferd:requests_cancelled_total")
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        if stream:
            s.recv(200)  # the stream has started
        else:
            time.sleep(0.3)  # generation is under way
        s.close()
    # The server notices within its poll interval; wait for it (bounded).
    deadline = time.time() + 20
    while server.metric("inferd:requests_cancelled_total") < cancelled + 3 and time.time() < deadline:
        time.sleep(0.1)
    assert server.metric("inferd:requests_cancelled_total") >= cancelled + 3
    assert blocks_settle(server) == 0


def test_slow_client_does_not_stall_others(server):
    body = json.dumps({**BODY, "max_tokens": 64, "stream": True}).encode()
    s = socket.create_connection(("127.0.0.1", server.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
              str(len(body)).encode() + b"\r\n\r\n" + body)
    t0 = time.time()
    r = chat(server.url, BODY)  # another client is served while the slow one dawdles
    assert r.status_code == 200 and time.time() - t0 < 30
    got = b""
    while True:  # the slow client still gets everything, a little at a time
        time.sleep(0.01)
        part = s.recv(64)
        if not part:
            break
        got += part
        if b"[DONE]" in got:
            break
    s.close()
    assert b"[DONE]" in got


def test_metrics_names(server):
    chat(server.url, BODY)
    m = server.metrics()
    for name in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:prompt_tokens_total",
                 "vllm:generation_tokens_total", "vllm:time_to_first_token_seconds_count",
                 "vllm:inter_token_latency_seconds_count", "vllm:e2e_request_latency_seconds_count",
                 "vllm:kv_cache_usage_perc", "inferd:kv_blocks_used", "inferd:kv_blocks_free",
                 "inferd:prefix_cache_hit_blocks_total", "inferd:prefix_cache_misses_total",
                 "inferd:prefix_cache_evictions_total", "inferd:prefix_cache_bytes",
                 "inferd:http_responses_total"):
        assert any(k == name or k.startswith(name + "{") for k in m), name
    assert server.metric("vllm:generation_tokens_total") > 0


def test_health_is_503_while_loading_and_sigterm_finishes_streams(inferd_bin, tiny_model):
    s = Server(inferd_bin, tiny_model, "--max-num-seqs", "4")
    try:
        body = {**BODY, "max_tokens": 100000 // 1000, "stream": True}
        body["max_tokens"] = 100
        results = []

        def stream():
            r = chat(s.url, {**body, "ignore_eos": True}, stream=True)
            results.append(r.raw.read().decode())
        threads = [threading.Thread(target=stream) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        s.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(60)
        assert s.proc.wait(30) == 0
        # Every stream ended properly: a final event with a finish reason, then [DONE].
        assert len(results) == 3
        for text in results:
            assert text.rstrip().endswith("data: [DONE]")
            events = [json.loads(e[6:]) for e in text.split("\n\n") if e.startswith("data: {")]
            assert events[-1]["choices"][0]["finish_reason"] is not None
    finally:
        s.stop()


def test_load_with_random_disconnects(inferd_bin, tiny_model):
    """64 concurrent streaming clients for a bounded time (INFERD_LOAD_SECONDS, default
    120), a quarter of them hanging up mid-stream: no unexpected status, all blocks
    back afterwards, memory flat between the first and second half."""
    seconds = float(os.environ.get("INFERD_LOAD_SECONDS", "120"))
    s = Server(inferd_bin, tiny_model, "--max-num-seqs", "64", "--kv-cache-bytes", str(64 << 20))
    errors, done, rss = [], [0], []
    stop_at = time.time() + seconds

    def client(i):
        rnd = random.Random(i)
        while time.time() < stop_at:
            body = {"messages": [{"role": "user", "content": "load %d" % rnd.randrange(1000)}],
                    "max_tokens": rnd.randrange(4, 64), "temperature": 0.7, "stream": True}
            try:
                r = chat(s.url, body, stream=True)
                if r.status_code != 200:
                    errors.append(r.status_code)
                    continue
                if rnd.random() < 0.25:
                    next(r.iter_content(64))
                    r.close()  # vanish mid-stream
                    continue
                text = r.raw.read().decode()
                if not text.rstrip().endswith("[DONE]"):
                    errors.append("stream without [DONE]")
                done[0] += 1
            except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                errors.append(repr(e))
    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(64)]
        for t in threads:
            t.start()
        time.sleep(seconds / 2)
        rss.append(s.rss_kib())
        for t in threads:
            t.join(seconds + 120)
        assert blocks_settle(s, 30) == 0
        rss.append(s.rss_kib())
        assert not errors, errors[:5]
        assert done[0] > 64
        # Memory flat: the second half did not grow the process by more than 64 MiB.
        assert rss[1] - rss[0] < 64 * 1024, rss
    finally:
        assert s.stop() == 0


def test_chat_template_override(inferd_bin, tiny_model, tmp_path):
    tpl = tmp_path / "t.jinja"
    tpl.write_text("{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
                   "{% if add_generation_prompt %}[assistant] {% endif %}")
    s = Server(inferd_bin, tiny_model, "--chat-template", tpl)
    try:
        ids = requests.post(s.url + "/tokenize", json={"messages": BODY["messages"]}, timeout=10).json()
        text = requests.post(s.url + "/detokenize", json={"tokens": ids["tokens"]}, timeout=10).json()
        assert text["prompt"] == "[user] hello\n[assistant] "
    finally:
        assert s.stop() == 0
    bad = tmp_path / "bad.jinja"
    bad.write_text("{% frobnicate %}")
    cp = run_inferd(inferd_bin, "serve", "-m", tiny_model, "--port", "0", "--chat-template", bad,
                    check=False, timeout=60)
    assert cp.returncode == 1 and "frobnicate" in cp.stderr


@pytest.mark.parametrize("flag,value", [
    ("--gpu-memory-fraction", "0"), ("--gpu-memory-fraction", "1.5"),
    ("--gpu-memory-fraction", "abc"), ("--kv-cache-fraction", "-0.1"),
])
def test_bad_memory_fractions_are_refused(inferd_bin, tiny_model, flag, value):
    cp = run_inferd(inferd_bin, "serve", "-m", tiny_model, "--port", "0", flag, value,
                    check=False, timeout=60)
    assert cp.returncode == 2 and f"bad value for {flag}: '{value}'" in cp.stderr


def test_gpu_memory_fraction_is_accepted_on_cpu(inferd_bin, tiny_model):
    # On a host-memory backend the fraction has nothing to size; the server starts.
    s = Server(inferd_bin, tiny_model, "--backend", "cpu", "--gpu-memory-fraction", "0.5")
    try:
        assert requests.get(s.url + "/health", timeout=10).status_code == 200
    finally:
        assert s.stop() == 0
