"""`inferd run` and `inferd bench-model` end to end.

Real data: stories260K's greedy continuations equal llama.cpp's golden ids (and
the prompt tokenizes to llama.cpp's ids). Data made here: tiny `inferd synth`
models of every architecture, for the JSON contract, seeds, --ignore-eos, chat
formatting and errors.
"""
import json

import pytest

from conftest import run_inferd

ARCHS = ["llama", "qwen2", "qwen3", "gemma3"]


@pytest.fixture(scope="module")
def synth_models(inferd_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    out = {}
    for arch in ARCHS:
        p = d / f"tiny-{arch}.gguf"
        run_inferd(inferd_bin, "synth", "--arch", arch, "--preset", "tiny", "--type", "Q8_0",
                   "--seed", "3", "-o", p)
        out[arch] = p
    return out


def run_json(inferd_bin, model, prompt, *flags):
    cp = run_inferd(inferd_bin, "run", "-m", model, "-p", prompt, "--json", *flags)
    return json.loads(cp.stdout)


@pytest.mark.parametrize("which", ["stories260K.gguf", "derived/stories260K-F16.gguf",
                                   "derived/stories260K-Q8_0-ffndownF16.gguf"])
def test_stories_greedy_matches_llama_cpp(inferd_bin, testdata, which):
    golden = json.loads((testdata / "golden" / "stories260K-greedy.json").read_text())
    model = testdata / "models" / which
    for r in golden["runs"]:
        out = run_json(inferd_bin, model, r["prompt"], "--temp", "0", "-n",
                       str(len(r["completion_ids"])))
        assert out["prompt_ids"] == r["prompt_ids"]
        assert out["ids"] == r["completion_ids"], f"{which} '{r['prompt']}'"
        if which == "stories260K.gguf":
            assert out["text"] == r["completion_text"]


def test_stories_streams_text(inferd_bin, testdata):
    golden = json.loads((testdata / "golden" / "stories260K-greedy.json").read_text())
    r = golden["runs"][0]
    cp = run_inferd(inferd_bin, "run", "-m", testdata / "models" / "stories260K.gguf", "-p",
                    r["prompt"], "--temp", "0", "-n", "64")
    assert cp.stdout.rstrip("\n") == r["completion_text"]
    assert "prompt: 5 tokens" in cp.stderr and "generated: 64 tokens" in cp.stderr
    assert "tok/s" in cp.stderr


@pytest.mark.parametrize("arch", ARCHS)
def test_json_contract_and_seeds(inferd_bin, synth_models, arch):
    m = synth_models[arch]
    a = run_json(inferd_bin, m, "hello world", "-n", "12", "--seed", "7", "--ignore-eos",
                 "--temp", "1.5", "--top-k", "0", "--top-p", "1", "--min-p", "0")
    assert set(a) >= {"prompt_ids", "ids", "text", "prompt_tok_s", "decode_tok_s"}
    assert len(a["ids"]) == 12 and a["prompt_tok_s"] > 0 and a["decode_tok_s"] > 0
    b = run_json(inferd_bin, m, "hello world", "-n", "12", "--seed", "7", "--ignore-eos",
                 "--temp", "1.5", "--top-k", "0", "--top-p", "1", "--min-p", "0")
    assert a["ids"] == b["ids"], "same seed, same tokens"
    c = run_json(inferd_bin, m, "hello world", "-n", "12", "--seed", "8", "--ignore-eos",
                 "--temp", "1.5", "--top-k", "0", "--top-p", "1", "--min-p", "0")
    assert a["ids"] != c["ids"], "another seed, other tokens (random weights: flat logits)"
    g1 = run_json(inferd_bin, m, "hello world", "-n", "8", "--temp", "0", "--ignore-eos")
    g2 = run_json(inferd_bin, m, "hello world", "-n", "8", "--top-k", "1", "--seed", "99",
                  "--ignore-eos")
    assert g1["ids"] == g2["ids"], "top-k 1 is greedy"


def test_chat_uses_template(inferd_bin, synth_models):
    m = synth_models["llama"]
    plain = run_json(inferd_bin, m, "hi", "-n", "1", "--temp", "0")
    chat = run_json(inferd_bin, m, "hi", "-n", "1", "--temp", "0", "--chat")
    # synth ships a ChatML template: the chat prompt wraps the text in turns.
    assert len(chat["prompt_ids"]) > len(plain["prompt_ids"]) + 4


def test_kv_types_and_batch(inferd_bin, synth_models):
    m = synth_models["gemma3"]
    ref = run_json(inferd_bin, m, "one two three four five six", "-n", "6", "--temp", "0",
                   "--ignore-eos")
    chunked = run_json(inferd_bin, m, "one two three four five six", "-n", "6", "--temp", "0",
                       "--ignore-eos", "--batch", "2", "--kv-type", "f32")
    assert chunked["prompt_ids"] == ref["prompt_ids"]
    assert len(chunked["ids"]) == 6
    for kv in ["bf16", "q8"]:
        out = run_json(inferd_bin, m, "one two", "-n", "3", "--temp", "0", "--kv-type", kv,
                       "--ignore-eos")
        assert len(out["ids"]) == 3


def test_errors(inferd_bin, synth_models, tmp_path):
    cp = run_inferd(inferd_bin, "run", "-p", "x", check=False)
    assert cp.returncode == 2 and "-m FILE" in cp.stderr
    cp = run_inferd(inferd_bin, "run", "-m", tmp_path / "absent.gguf", "-p", "x", check=False)
    assert cp.returncode == 1 and "absent.gguf" in cp.stderr
    cp = run_inferd(inferd_bin, "run", "-m", synth_models["llama"], "-p", "x", "--top-p", "0",
                    check=False)
    assert cp.returncode == 1 and "top_p" in cp.stderr
    cp = run_inferd(inferd_bin, "run", "-m", synth_models["llama"], "-p", "x", "--kv-type", "q4",
                    check=False)
    assert cp.returncode == 2
    cp = run_inferd(inferd_bin, "run", "-m", synth_models["llama"], "-p", "x", "--backend",
                    "nope", check=False)
    assert cp.returncode == 1 and "nope" in cp.stderr
    cp = run_inferd(inferd_bin, "run", "-m", synth_models["llama"], "-p",
                    "a b c d e f g h i j", "--ctx", "4", check=False)
    assert cp.returncode == 1 and "context" in cp.stderr
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 20)
    cp = run_inferd(inferd_bin, "run", "-m", bad, "-p", "x", check=False)
    assert cp.returncode == 1 and cp.stderr


def test_bench_model(inferd_bin, synth_models):
    cp = run_inferd(inferd_bin, "bench-model", "-m", synth_models["qwen3"], "-p", "32", "-n", "8",
                    "-r", "2", "--json")
    rows = [json.loads(line) for line in cp.stdout.splitlines()]
    assert [r["test"] for r in rows] == ["pp32", "tg8"]
    assert all(r["tok_s"] > 0 and r["reps"] == 2 for r in rows)
    cp = run_inferd(inferd_bin, "bench-model", "-m", synth_models["qwen3"], "-p", "16", "-n", "0",
                    "-r", "1")
    assert "| pp16 |" in cp.stdout and "tg" not in cp.stdout.split("\n", 2)[2]


def test_smollm2_answers(inferd_bin, smollm2):
    # Greedy on the Q4_1 file: llama.cpp continues this prompt with " Paris." too
    # (tests/golden/llamacpp-smollm2-greedy.json). Asked as a chat, this small model
    # answers "L'Étoile, ..." in llama.cpp and inferd alike, so the chat form is
    # checked only for running, not for its answer.
    out = run_json(inferd_bin, smollm2, "The capital of France is", "--temp", "0", "-n", "4")
    assert "Paris" in out["text"]
    chat = run_json(inferd_bin, smollm2, "What is the capital of France?", "--chat", "--temp", "0",
                    "-n", "8")
    assert chat["ids"] and len(chat["prompt_ids"]) > 8


def test_chat_template_file(inferd_bin, synth_models, tmp_path):
    tpl = tmp_path / "t.jinja"
    tpl.write_text("{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}")
    out = run_json(inferd_bin, synth_models["llama"], "hi", "--chat", "--chat-template", tpl,
                   "-n", "1", "--temp", "0")
    ids = ",".join(map(str, out["prompt_ids"]))
    text = run_inferd(inferd_bin, "tokenize", "-m", synth_models["llama"], "--decode", ids).stdout
    assert text.strip() == "<user>hi"
    bad = tmp_path / "bad.jinja"
    bad.write_text("{% frobnicate %}")
    cp = run_inferd(inferd_bin, "run", "-m", synth_models["llama"], "-p", "hi", "--chat",
                    "--chat-template", bad, check=False)
    assert cp.returncode != 0 and "frobnicate" in cp.stderr
