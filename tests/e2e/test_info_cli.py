"""`inferd info`: its --json view compared with the `gguf` package's reading of the
same file (tensor names, shapes, types, sizes; metadata values), on synthetic
models, on every GGUF in ../shared/testdata and on the real models."""
import json
import math

import gguf
import numpy as np
import pytest

from conftest import run_inferd

INLINE = 64  # arrays longer than this are summarized by info


def info_json(inferd_bin, path):
    return json.loads(run_inferd(inferd_bin, "info", "--json", path).stdout)


def py_value(f):
    """A metadata field as plain Python, the way info --json prints it."""
    t = f.types[0]
    if t == gguf.GGUFValueType.ARRAY:
        if len(f.data) > INLINE:
            return {"count": len(f.data)}
        if f.types[-1] == gguf.GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode("utf-8", "replace") for i in f.data]
        if len(f.types) > 2:
            return None  # nested arrays: compared by count only
        return [f.parts[i][0].item() for i in f.data]
    if t == gguf.GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode("utf-8", "replace")
    return f.parts[f.data[0]][0].item()


def same(a, b):
    if isinstance(b, float) or isinstance(a, float):
        if b is None or a is None:
            return a is None and (b is None or not math.isfinite(b))
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-30) or (
            not math.isfinite(b) and a is None)
    return a == b


def compare_with_gguf(info, path):
    r = gguf.GGUFReader(str(path))
    # tensors: names, shapes (ne[0] first), types, byte sizes, offsets
    assert len(info["tensors"]) == len(r.tensors)
    for mine, ref in zip(info["tensors"], r.tensors):
        assert mine["name"] == ref.name
        assert mine["shape"] == [int(x) for x in ref.shape]
        assert mine["type"] == ref.tensor_type.name
        assert mine["type_id"] == int(ref.tensor_type)
        assert mine["bytes"] == int(ref.n_bytes)
        assert mine["elements"] == int(ref.n_elements)
    assert info["n_params"] == sum(int(t.n_elements) for t in r.tensors)
    assert info["memory"]["weights_bytes"] == sum(int(t.n_bytes) for t in r.tensors)
    # the mix of formats adds up
    assert sum(f["count"] for f in info["formats"]) == len(r.tensors)
    assert sum(f["bytes"] for f in info["formats"]) == info["memory"]["weights_bytes"]
    if r.tensors:
        assert sum(f["percent"] for f in info["formats"]) == pytest.approx(100.0)
    # metadata: every key, in order, with its value
    keys = [k for k in r.fields if not k.startswith("GGUF.")]
    assert list(info["metadata"]) == keys
    for k in keys:
        want, got = py_value(r.fields[k]), info["metadata"][k]
        if isinstance(want, dict):
            assert got["count"] == want["count"], k
        elif isinstance(want, list):
            assert len(got) == len(want) and all(same(a, b) for a, b in zip(got, want)), k
        elif want is not None:
            assert same(got, want), (k, got, want)
    return r


def check_tokenizer(info, r):
    tok = info["tokenizer"]
    if "tokenizer.ggml.tokens" not in r.fields:
        return
    tokens = r.fields["tokenizer.ggml.tokens"]
    assert tok["vocab_size"] == len(tokens.data)
    assert tok["model"] == py_value(r.fields["tokenizer.ggml.model"])
    for name, key in (("bos", "bos_token_id"), ("eos", "eos_token_id"), ("unk", "unknown_token_id")):
        key = "tokenizer.ggml." + key
        if key in r.fields:
            tid = py_value(r.fields[key])
            assert tok["special"][name]["id"] == tid
            if tid < len(tokens.data):
                want = bytes(tokens.parts[tokens.data[tid]]).decode("utf-8", "replace")
                assert tok["special"][name]["text"] == want
    assert tok["chat_template"] == ("tokenizer.chat_template" in r.fields)


def check_kv_memory(info, r):
    """KV bytes per token, computed here from the metadata alone."""
    arch = py_value(r.fields["general.architecture"])
    get = lambda k, d=None: py_value(r.fields[f"{arch}.{k}"]) if f"{arch}.{k}" in r.fields else d
    n_layer, d, h = get("block_count"), get("embedding_length"), get("attention.head_count")
    hkv = get("attention.head_count_kv", h)
    hd = get("attention.key_length", d // h)
    hdv = get("attention.value_length", hd)
    per = info["memory"]["kv_bytes_per_token"]
    assert per["f16"] == per["bf16"] == 2 * n_layer * hkv * (hd + hdv)
    groups = hkv * (math.ceil(hd / 64) + math.ceil(hdv / 64))
    assert per["q8"] == n_layer * (hkv * (hd + hdv) + 2 * groups)
    ctx = get("context_length")
    assert info["memory"]["kv_bytes_full_context"]["f16"] == per["f16"] * ctx


@pytest.mark.parametrize("arch", ["llama", "qwen2", "qwen3", "gemma3"])
def test_info_on_synthetic_models(inferd_bin, tmp_path, arch):
    p = tmp_path / "m.gguf"
    run_inferd(inferd_bin, "synth", "--arch", arch, "--preset", "small", "--type", "Q4_K",
               "-o", p)
    info = info_json(inferd_bin, p)
    r = compare_with_gguf(info, p)
    check_tokenizer(info, r)
    check_kv_memory(info, r)
    assert info["architecture"] == arch and info["architecture_supported"]
    hp = info["hparams"]
    assert hp["block_count"] == py_value(r.fields[f"{arch}.block_count"])
    assert hp["rope_type"] == ("norm" if arch == "llama" else "neox")
    assert hp["tied_output"] == ("output.weight" not in {t.name for t in r.tensors})
    assert info["tokenizer"]["special"]["eos"]["text"] == "<|im_end|>"
    assert info["tokenizer"]["chat_template"] is True
    if arch == "gemma3":
        n = hp["block_count"]
        assert hp["global_layers"] == [i for i in range(n) if i % 6 == 5]
        assert hp["embedding_scale"] == pytest.approx(math.sqrt(hp["embedding_length"]), rel=1e-6)
    # the text view carries the same facts
    text = run_inferd(inferd_bin, "info", p).stdout
    for word in (arch, "Q4_K", "KV cache per token", "blk.0.attn_q.weight", "<|im_end|>",
                 "chat template present"):
        assert word in text


def gguf_files(root):
    return sorted(p for p in root.rglob("*.gguf") if "legacy" not in p.parts)


def test_info_on_every_testdata_file(inferd_bin, testdata):
    files = gguf_files(testdata)
    assert files
    # The gguf package takes seconds per large vocabulary: compare it on the models
    # and on two vocabularies (BPE and SentencePiece); every file must still work.
    oracle = {"ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf"}
    for p in files:
        info = info_json(inferd_bin, p)
        if "vocab" not in p.parts or p.name in oracle:
            r = compare_with_gguf(info, p)
            check_tokenizer(info, r)
            if info["hparams"] is not None and info["architecture"] == "llama":
                check_kv_memory(info, r)
        if not info["tensors"]:  # vocabulary-only files still describe their tokenizer
            assert info["n_params"] == 0
            assert info["tokenizer"]["vocab_size"] == \
                info["metadata"]["tokenizer.ggml.tokens"]["count"] > 0
        assert run_inferd(inferd_bin, "info", p).returncode == 0


def test_info_rejects_gguf_v1(inferd_bin, testdata):
    legacy = sorted((testdata / "models" / "legacy").glob("*.gguf"))
    assert legacy
    for p in legacy:
        cp = run_inferd(inferd_bin, "info", p, check=False)
        assert cp.returncode == 1
        assert "version 1" in cp.stderr and "not supported" in cp.stderr


@pytest.mark.parametrize("model", ["smollm2", "gemma3"])
def test_info_on_real_models(inferd_bin, request, model):
    p = request.getfixturevalue(model)
    info = info_json(inferd_bin, p)
    r = compare_with_gguf(info, p)
    check_tokenizer(info, r)
    check_kv_memory(info, r)
    hp = info["hparams"]
    if model == "smollm2":
        assert (hp["block_count"], hp["head_count"], hp["head_count_kv"]) == (30, 9, 3)
        assert hp["tied_output"] and hp["rope_type"] == "norm"
    else:
        assert hp["key_length"] == 256 and hp["sliding_window"] == 512
        assert hp["global_layers"] == [5, 11, 17]
        assert hp["rope_freq_base_swa"] == 10000.0 and hp["rope_freq_base"] == 1e6


def test_info_errors(inferd_bin, tmp_path):
    assert run_inferd(inferd_bin, "info", "--help").returncode == 0
    assert run_inferd(inferd_bin, "info", check=False).returncode == 2
    assert run_inferd(inferd_bin, "info", "--frob", "x", check=False).returncode == 2
    cp = run_inferd(inferd_bin, "info", tmp_path / "absent.gguf", check=False)
    assert cp.returncode == 1 and "absent.gguf" in cp.stderr
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file at all, just text" * 4)
    cp = run_inferd(inferd_bin, "info", junk, check=False)
    assert cp.returncode == 1 and cp.stderr.strip()
    # a truncated model: the reader's error, no crash
    p = tmp_path / "m.gguf"
    run_inferd(inferd_bin, "synth", "-o", p)
    data = p.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) // 2])
    cp = run_inferd(inferd_bin, "info", cut, check=False)
    assert cp.returncode == 1 and cp.stderr.strip()
