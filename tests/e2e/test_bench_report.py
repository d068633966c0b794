"""`inferd bench` against the fake OpenAI server: the figures, the requests it
sends, the report files, the concurrency sweep and open-loop load.

Timing asserts are generous bounds around the fake's known delays (its sleeps
are lower bounds on what the client measures); exact checks are kept for what
is exact: token counts, definitions between figures, percentiles (recomputed
with numpy from the raw figures of the same JSON report).
"""
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from conftest import run_inferd
from fake_openai_server import FakeServer

DEFAULT_PROMPTS = [
    "What is the capital of France?",
    "Explain the difference between TCP and UDP.",
    "Write a Python function that checks whether a number is prime.",
    "한국의 수도는 어디이며 인구는 얼마나 되나요?",
    "Explain the four principles of object-oriented programming.",
    "Compare Python and Rust for systems programming.",
    "Write a haiku about artificial intelligence.",
    "다음 문장을 영어로 번역하세요: 오늘은 날씨가 정말 좋아서 공원에 산책하러 갔습니다.",
    "What is the capital of France?",
    "Explain the difference between TCP and UDP.",
]


@pytest.fixture
def fake():
    srv = FakeServer(first_delay=0.05, token_delay=0.01, tokens=5).start()
    yield srv
    srv.stop()


def bench(inferd_bin, fake, tmp_path, *args, check=True):
    out = tmp_path / "out"
    cp = run_inferd(inferd_bin, "bench", "--url", fake.url, "--json", f"{out}.json",
                    "--report", f"{out}.md", "--svg", f"{out}.svg", *args, check=check,
                    timeout=120)
    data = json.loads((tmp_path / "out.json").read_text()) if cp.returncode == 0 else None
    return cp, data


def fake_prompt_tokens(messages):
    return sum(len(m["content"].split()) + 3 for m in messages)


def check_summary_against_numpy(ph):
    ok = [r for r in ph["requests"] if r["ok"]]
    fields = {"ttft_ms": [r["ttft_s"] * 1000 for r in ok],
              "overall_tok_s": [r["overall_tok_s"] for r in ok],
              "prefill_tok_s": [r["prefill_tok_s"] for r in ok if r["prefill_tok_s"] is not None],
              "decode_tok_s": [r["decode_tok_s"] for r in ok if r["decode_tok_s"] is not None],
              "tpot_ms": [r["tpot_s"] * 1000 for r in ok if r["tpot_s"] is not None],
              "itl_ms": [g * 1000 for r in ok for g in r["itl_s"]],
              "latency_s": [r["latency_s"] for r in ok]}
    for name, xs in fields.items():
        s = ph["summary"][name]
        assert s["n"] == len(xs), name
        if not xs:
            continue
        for key, p in (("p50", 50), ("p95", 95), ("p99", 99)):
            assert s[key] == pytest.approx(np.percentile(xs, p), rel=1e-9, abs=1e-12), (name, key)
        assert s["avg"] == pytest.approx(np.mean(xs), rel=1e-9)
        assert s["min"] == pytest.approx(min(xs), rel=1e-9)
        assert s["max"] == pytest.approx(max(xs), rel=1e-9)
    summ = ph["summary"]
    assert summ["completion_tokens"] == sum(r["completion_tokens"] for r in ok)
    assert summ["throughput_tok_s"] == pytest.approx(summ["completion_tokens"] / summ["wall_s"],
                                                     rel=1e-9)
    assert summ["requests_per_s"] == pytest.approx(len(ok) / summ["wall_s"], rel=1e-9)


def test_default_run_figures_requests_and_files(inferd_bin, fake, tmp_path):
    cp, data = bench(inferd_bin, fake, tmp_path, "--max-tokens", "8", "--system-tokens", "300")
    assert [p["name"] for p in data["phases"]] == ["seq", "c=4", "prefix", "prefix+system"]
    # --model was absent: the first id of GET /v1/models.
    assert data["config"]["model"] == "fake-model"

    bodies = [r["body"] for r in fake.requests]
    assert len(bodies) == 10 + 10 + 6 + 6
    for b in bodies:
        assert b["model"] == "fake-model" and b["stream"] is True
        assert b["stream_options"] == {"include_usage": True}
        assert b["max_tokens"] == 8 and b["temperature"] == 0
    assert all(r["expect"] is None for r in fake.requests)  # no 100-continue wait in TTFT
    assert [b["messages"][-1]["content"] for b in bodies[:10]] == DEFAULT_PROMPTS

    for ph in data["phases"]:
        assert ph["summary"]["failed"] == 0 and ph["errors"] == []
        for r in ph["requests"]:
            assert r["ok"] and r["usage"] and r["error"] is None
            assert r["completion_tokens"] == 5 == r["content_chunks"]
            assert len(r["itl_s"]) == 4
            # The fake sends a role-only chunk at once: TTFT must wait for content.
            assert 0.05 <= r["ttft_s"] < 0.05 + 3.0
            assert r["ttft_s"] < r["latency_s"] < 10
            assert r["finish_reason"] == "stop"
            # The definitions, exactly.
            assert r["prefill_tok_s"] == pytest.approx(r["prompt_tokens"] / r["ttft_s"])
            assert r["decode_tok_s"] == pytest.approx(5 / (r["latency_s"] - r["ttft_s"]))
            assert r["overall_tok_s"] == pytest.approx(5 / r["latency_s"])
            assert r["tpot_s"] == pytest.approx((r["latency_s"] - r["ttft_s"]) / 4)
        check_summary_against_numpy(ph)

    seq = data["phases"][0]
    for r, prompt in zip(seq["requests"], data["prompt_set"]):
        assert r["prompt_tokens"] == fake_prompt_tokens(prompt["messages"])
    # Gaps of 10 ms at the fake: the median ITL lands near them.
    assert 0.005 < np.median([g for r in seq["requests"] for g in r["itl_s"]]) < 0.5
    assert [r["label"] for r in seq["requests"]][8] == "France capital (prefix hit)"

    # Phase 3: each prompt twice, the same body; the system variant carries a
    # long system prompt whose first line (a tag) differs between pairs only.
    pre, pre_sys = bodies[20:26], bodies[26:32]
    for i in range(3):
        assert pre[2 * i] == pre[2 * i + 1] and pre_sys[2 * i] == pre_sys[2 * i + 1]
        assert pre[2 * i]["messages"][-1]["content"] == DEFAULT_PROMPTS[i]
        assert pre_sys[2 * i]["messages"][0]["role"] == "system"
    systems = [b["messages"][0]["content"] for b in pre_sys[::2]]
    assert len({s.split("\n", 1)[0] for s in systems}) == 3
    assert len({s.split("\n", 1)[1] for s in systems}) == 1
    assert 250 < len(systems[0].split()) < 330
    pairs = data["phases"][3]["pairs"]
    assert [p["label"] for p in pairs] == ["France capital", "TCP vs UDP", "Python prime function"]
    for p in pairs:
        assert p["speedup"] == pytest.approx(p["ttft1_ms"] / p["ttft2_ms"])

    md = (tmp_path / "out.md").read_text()
    assert md == cp.stdout  # the same report on stdout and in --report
    for heading in ("## Configuration", "## Phase 1: Sequential (concurrency=1)",
                    "## Phase 2: Concurrent (concurrency=4)", "## Phase 3: Prefix Cache Test",
                    "### Per-Request Detail", "| Metric | avg | p50 | p95 | p99 |",
                    "| # | TTFT(ms) | Prefill | Decode | Tokens | Time(s) | Prompt |",
                    "| Prompt | 1st TTFT(ms) | 2nd TTFT(ms) | Speedup |", "## Key Observations"):
        assert heading in md
    assert "**Aggregate**: 10 requests, " in md
    assert "| 3 |" in md and "한국 수도/인구 |" in md
    assert "### Errors" not in md

    root = ET.parse(tmp_path / "out.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for s in ("Aggregate throughput", "Time to first token", "Prefix cache", "c=4", "TTFT (ms)"):
        assert s in texts
    assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) == 2  # one CDF per load phase


def overlap(requests):
    """Most requests in flight at once, from the client's own send/end times."""
    ev = sorted([(r["t_send_s"], 1) for r in requests] +
                [(r["t_send_s"] + r["latency_s"], -1) for r in requests], key=lambda e: (e[0], e[1]))
    cur = best = 0
    for _, d in ev:
        cur += d
        best = max(best, cur)
    return best


def test_concurrency_sweep(inferd_bin, fake, tmp_path):
    fake.token_delay = 0.03
    cp, data = bench(inferd_bin, fake, tmp_path, "--phases", "conc", "--concurrency", "1,4,16",
                     "--max-tokens", "4")
    phases = data["phases"]
    assert [p["concurrency"] for p in phases] == [1, 4, 16]
    # The set once, or repeated until each of 16 slots gets a request.
    assert [len(p["requests"]) for p in phases] == [10, 10, 20]
    assert [r["prompt"] for r in phases[2]["requests"]] == list(range(10)) * 2
    assert overlap(phases[0]["requests"]) == 1
    assert 2 <= overlap(phases[1]["requests"]) <= 4
    assert 2 <= overlap(phases[2]["requests"]) <= 16
    assert fake.max_inflight <= 16
    for ph in phases:
        assert ph["summary"]["ok"] == len(ph["requests"])
        assert all(r["completion_tokens"] == 4 for r in ph["requests"])
        check_summary_against_numpy(ph)
    # More concurrency, more aggregate throughput against a server that never queues.
    assert phases[1]["summary"]["throughput_tok_s"] > phases[0]["summary"]["throughput_tok_s"]
    md = cp.stdout
    assert "## Throughput vs Concurrency" in md
    assert "## Phase 2: Concurrent (concurrency=16)" in md
    assert "Phase 1" not in md and "Phase 3" not in md
    root = ET.parse(tmp_path / "out.svg").getroot()
    assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) == 3


def test_requests_flag_and_file_prompts(inferd_bin, fake, tmp_path):
    pf = tmp_path / "p.txt"
    pf.write_text('{"prompt": "alpha beta", "label": "A"}\n'
                  '{"messages": [{"role": "system", "content": "sys"}, '
                  '{"role": "user", "content": "gamma"}]}\n\nplain delta line\n')
    cp, data = bench(inferd_bin, fake, tmp_path, "--phases", "seq,conc", "--prompts", pf,
                     "--requests", "7", "--concurrency", "2", "--model", "m1")
    assert [p["label"] for p in data["prompt_set"]] == ["A", "gamma", "plain delta line"]
    assert len(data["phases"][0]["requests"]) == 3
    assert [r["prompt"] for r in data["phases"][1]["requests"]] == [0, 1, 2, 0, 1, 2, 0]
    bodies = [r["body"] for r in fake.requests]
    assert all(b["model"] == "m1" for b in bodies)
    assert all("ignore_eos" not in b for b in bodies)
    assert bodies[1]["messages"] == [{"role": "system", "content": "sys"},
                                     {"role": "user", "content": "gamma"}]
    # stderr is not a terminal here: one plain line per request.
    lines = [ln for ln in cp.stderr.splitlines() if ln.startswith("bench ")]
    assert len(lines) == 3 + 7 and lines[0].startswith("bench seq 1/3 ok: ttft ")


def test_ignore_eos_flag(inferd_bin, fake, tmp_path):
    cp, data = bench(inferd_bin, fake, tmp_path, "--phases", "seq", "--ignore-eos",
                     "--max-tokens", "7")
    bodies = [r["body"] for r in fake.requests]
    assert len(bodies) == 10
    assert all(b["ignore_eos"] is True and b["max_tokens"] == 7 for b in bodies)


def test_open_loop_poisson(inferd_bin, fake, tmp_path):
    def run(seed, *extra):
        _, d = bench(inferd_bin, fake, tmp_path, "--duration", "1.5", "--rate", "6", "--seed",
                     str(seed), "--max-tokens", "2", *extra)
        return d
    d1, d2, d3 = run(7), run(7), run(8)
    assert [p["name"] for p in d1["phases"]] == ["open 6/s"]
    ph = d1["phases"][0]
    assert ph["kind"] == "open_loop" and ph["rate"] == 6 and ph["duration_s"] == 1.5
    sched = [r["t_sched_s"] for r in ph["requests"]]
    assert sched[0] == 0 and all(a < b for a, b in zip(sched, sched[1:])) and sched[-1] < 1.5
    assert 1 <= len(sched) <= 40
    # Seeded: the same arrival times again; another seed, other times.
    assert sched == [r["t_sched_s"] for r in d2["phases"][0]["requests"]]
    assert sched != [r["t_sched_s"] for r in d3["phases"][0]["requests"]]
    for r in ph["requests"]:
        assert r["ok"] and r["t_send_s"] >= r["t_sched_s"] - 1e-6
    check_summary_against_numpy(ph)
    # --concurrency with --rate caps the requests in flight.
    fake.token_delay = 0.2
    d4 = run(7, "--concurrency", "1")
    assert overlap(d4["phases"][0]["requests"]) == 1
    assert "at most 1 in flight" in (tmp_path / "out.md").read_text()
