"""`inferd bench` against servers that misbehave: every failure is counted in
its phase, reported with a useful message, and never stops the run."""
import json
import socket
import threading

import pytest

from conftest import run_inferd
from fake_openai_server import FakeServer


@pytest.fixture
def fake():
    srv = FakeServer(first_delay=0.02, token_delay=0.005, tokens=5).start()
    yield srv
    srv.stop()


def bench_json(inferd_bin, url, tmp_path, *args, check=True):
    out = tmp_path / "out.json"
    cp = run_inferd(inferd_bin, "bench", "--url", url, "--json", out, "--report",
                    tmp_path / "out.md", *args, check=check, timeout=120)
    return cp, (json.loads(out.read_text()) if out.exists() else None)


CASES = [  # (marker, error kind or None, what the message must say)
    ("ok", None, None),
    ("[[fail:500]]", "http", "HTTP 500: fake failure 500"),
    ("[[fail:429]]", "http", "HTTP 429: fake failure 429"),
    ("[[malformed]]", "malformed chunk", "chunk is not valid JSON"),
    ("[[close]]", "truncated", "closed mid-stream"),
    ("[[nodone]]", "truncated", "without data: [DONE]"),
    ("[[error_event]]", "error in stream", "fake error inside the stream"),
    ("[[json]]", "truncated", "no SSE event (Content-Type: application/json)"),
    ("[[empty]]", "empty response", "without any content"),
    ("[[hang:4]]", "timeout", "no end of stream after"),
    ("[[nousage]]", None, None),
    ("[[crlf]] [[comments]] [[multiline]]", None, None),
    ("[[split]] [[tokens:3]]", None, None),
    ("ok again", None, None),
]


def test_every_misbehaviour_is_counted(inferd_bin, fake, tmp_path):
    pf = tmp_path / "p.jsonl"
    pf.write_text("".join(json.dumps({"prompt": m, "label": f"case{i}"}) + "\n"
                          for i, (m, _, _) in enumerate(CASES)))
    cp, data = bench_json(inferd_bin, fake.url, tmp_path, "--prompts", pf, "--phases", "seq",
                          "--timeout", "2")
    assert cp.returncode == 0
    reqs = data["phases"][0]["requests"]
    for r, (marker, kind, msg) in zip(reqs, CASES):
        if kind is None:
            assert r["ok"], (marker, r["error"])
            continue
        assert not r["ok"] and r["error"]["kind"] == kind, (marker, r["error"])
        assert msg in r["error"]["message"], (marker, r["error"]["message"])
        assert r["completion_tokens"] is None and r["decode_tok_s"] is None
    assert reqs[1]["http_status"] == 500 and reqs[2]["http_status"] == 429
    # No usage chunk: tokens are counted as content chunks, and it is marked.
    nu = reqs[10]
    assert not nu["usage"] and nu["completion_tokens"] == nu["content_chunks"] == 5
    assert nu["prompt_tokens"] is None and nu["prefill_tok_s"] is None
    assert nu["decode_tok_s"] is not None
    assert reqs[11]["completion_tokens"] == 5 and reqs[12]["completion_tokens"] == 3
    assert reqs[3]["malformed_chunks"] == 1

    summ = data["phases"][0]["summary"]
    assert summ["failed"] == 9 and summ["ok"] == 5 and summ["no_usage"] == 1
    groups = {(e["kind"], e["http_status"]): e["count"] for e in data["phases"][0]["errors"]}
    assert groups == {("http", 500): 1, ("http", 429): 1, ("malformed chunk", 0): 1,
                      ("truncated", 0): 3, ("error in stream", 0): 1, ("empty response", 0): 1,
                      ("timeout", 0): 1}
    md = (tmp_path / "out.md").read_text()
    assert "### Errors" in md and "| http | 500 | 1 | HTTP 500: fake failure 500 |" in md
    assert "| truncated | - | 3 |" in md
    assert "(**failed**: timeout)" in md
    assert "| 5* |" in md and "no usage chunk" in md
    assert "9 of 14 requests failed" in cp.stderr


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_connection_refused(inferd_bin, tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    cp, data = bench_json(inferd_bin, url, tmp_path, "--model", "x", "--phases", "seq,prefix",
                          "--system-tokens", "0")
    assert cp.returncode == 0
    assert [p["name"] for p in data["phases"]] == ["seq", "prefix"]
    seq = data["phases"][0]
    assert seq["summary"]["failed"] == 10 and seq["summary"]["ok"] == 0
    assert seq["errors"][0]["kind"] == "connect" and seq["errors"][0]["count"] == 10
    assert seq["summary"]["ttft_ms"]["p50"] is None
    assert all(p["speedup"] is None for p in data["phases"][1]["pairs"])
    # Without --model the model cannot be found: that stops the run, clearly.
    cp = run_inferd(inferd_bin, "bench", "--url", url, check=False)
    assert cp.returncode == 1 and "pass --model" in cp.stderr


def test_server_that_hangs_up_at_once(inferd_bin, tmp_path):
    """A listener that accepts and closes without a byte: a transport failure."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stop = threading.Event()

    def loop():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
                c.recv(65536)
                c.close()
            except OSError:
                pass
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        cp, data = bench_json(inferd_bin, f"http://127.0.0.1:{srv.getsockname()[1]}", tmp_path,
                              "--model", "x", "--phases", "conc", "--concurrency", "3")
    finally:
        stop.set()
        t.join()
        srv.close()
    ph = data["phases"][0]
    assert ph["summary"]["failed"] == 10
    assert {e["kind"] for e in ph["errors"]} == {"transport"}
    assert "Empty reply" in ph["errors"][0]["message"]


def test_api_key(inferd_bin, tmp_path):
    srv = FakeServer(first_delay=0.01, token_delay=0.001, tokens=2, api_key="s3cret").start()
    try:
        cp, data = bench_json(inferd_bin, srv.url, tmp_path, "--phases", "seq", "--api-key",
                              "s3cret")
        assert data["phases"][0]["summary"]["ok"] == 10
        assert {r["auth"] for r in srv.requests} == {"Bearer s3cret"}
        cp, data = bench_json(inferd_bin, srv.url + "/v1/", tmp_path, "--phases", "seq",
                              "--api-key", "wrong", "--model", "fake-model")
        errs = data["phases"][0]["errors"]
        assert errs == [{"kind": "http", "http_status": 401, "count": 10,
                         "message": "HTTP 401: invalid API key"}]
        cp = run_inferd(inferd_bin, "bench", "--url", srv.url, "--api-key", "wrong", check=False)
        assert cp.returncode == 1 and "HTTP 401" in cp.stderr
    finally:
        srv.stop()


@pytest.mark.parametrize("args, msg", [
    ([], "--url is required"),
    (["--url", "http://x", "--concurrency", "0"], "bad value '0' for --concurrency"),
    (["--url", "http://x", "--concurrency", "4,"], "bad value '4,' for --concurrency"),
    (["--url", "http://x", "--phases", "seq,fast"], "bad value 'seq,fast' for --phases"),
    (["--url", "http://x", "--rate", "2"], "--duration and --rate go together"),
    (["--url", "http://x", "--phases", "open"], "the open phase needs --duration S --rate R"),
    (["--url", "http://x", "--max-tokens", "-1"], "bad value '-1' for --max-tokens"),
    (["--url", "http://x", "--timeout", "nan"], "bad value 'nan' for --timeout"),
    (["--url", "http://x", "--frobnicate", "1"], "unknown option '--frobnicate'"),
    (["--url"], "--url needs a value"),
])
def test_usage_errors(inferd_bin, args, msg):
    cp = run_inferd(inferd_bin, "bench", *args, check=False)
    assert cp.returncode == 2 and msg in cp.stderr


def test_bad_prompt_file(inferd_bin, tmp_path):
    pf = tmp_path / "p.jsonl"
    pf.write_text('{"prompt": "fine"}\n{"prompt": 3}\n')
    cp = run_inferd(inferd_bin, "bench", "--url", "http://127.0.0.1:1", "--model", "x",
                    "--prompts", pf, check=False)
    assert cp.returncode == 1 and "line 2: \"prompt\" is not a string" in cp.stderr
    cp = run_inferd(inferd_bin, "bench", "--url", "http://127.0.0.1:1", "--model", "x",
                    "--prompts", tmp_path / "absent", check=False)
    assert cp.returncode == 1 and "cannot open" in cp.stderr


def test_help(inferd_bin):
    out = run_inferd(inferd_bin, "bench", "--help").stdout
    for flag in ("--url", "--model", "--phases", "--concurrency", "--max-tokens", "--temperature",
                 "--prompts", "--json", "--report", "--svg", "--api-key", "--duration", "--rate",
                 "--timeout", "--system-tokens", "--requests", "--seed"):
        assert flag in out
