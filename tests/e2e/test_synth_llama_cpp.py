"""Synthetic models are valid llama.cpp models: the llama.cpp peer (built by
bench/peer/build-llama-cpp.sh into .peer/, git-ignored) loads and runs each
architecture, and its tokenizer agrees with the `tokenizers` package on the
synthetic vocabulary. Skips when the peer is not built."""
import os
import pathlib
import subprocess

import gguf
import pytest

from conftest import ROOT, run_inferd


@pytest.fixture(scope="module")
def peer_bin():
    d = pathlib.Path(os.environ.get("PEER_DIR", ROOT / ".peer")) / "build-cpu" / "bin"
    if not (d / "llama-simple").exists() or not (d / "llama-tokenize").exists():
        pytest.skip(f"llama.cpp peer not built in {d} (bench/peer/build-llama-cpp.sh)")
    return d


@pytest.mark.parametrize("arch,type_", [("llama", "Q4_0"), ("qwen2", "Q8_0"),
                                        ("qwen3", "Q4_K"), ("gemma3", "Q6_K")])
def test_llama_cpp_runs_synthetic_models(inferd_bin, peer_bin, tmp_path, arch, type_):
    p = tmp_path / "m.gguf"
    run_inferd(inferd_bin, "synth", "--arch", arch, "--preset", "small", "--type", type_,
               "-o", p)
    cp = subprocess.run([str(peer_bin / "llama-simple"), "-m", str(p), "-n", "8", "The river"],
                        capture_output=True, text=True, errors="replace", timeout=300)
    assert cp.returncode == 0, cp.stderr[-2000:]
    assert "decoded 8 tokens" in cp.stderr + cp.stdout


def test_llama_cpp_tokenizes_like_tokenizers(inferd_bin, peer_bin, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    p = tmp_path / "m.gguf"
    run_inferd(inferd_bin, "synth", "--pre", "gpt2", "--dims", "vocab=1500", "-o", p)
    r = gguf.GGUFReader(str(p))
    f = r.fields["tokenizer.ggml.tokens"]
    ids = {bytes(f.parts[i]).decode(): n for n, i in enumerate(f.data)}
    m = r.fields["tokenizer.ggml.merges"]
    merges = [tuple(bytes(m.parts[i]).decode().split(" ")) for i in m.data]
    tok = Tokenizer(models.BPE(vocab=ids, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    for text in ["The river runs past the old mill.", "In winter the hills are white",
                 "Numbers: 10, 11, 12 and 2026!"]:
        cp = subprocess.run([str(peer_bin / "llama-tokenize"), "-m", str(p), "-p", text, "--ids",
                             "--log-disable"], capture_output=True, text=True, timeout=120)
        assert cp.returncode == 0, cp.stderr[-2000:]
        got = [int(x) for x in cp.stdout.strip().splitlines()[-1].strip("[]").split(",")]
        assert got == tok.encode(text).ids, text
