"""`inferd synth`: synthetic models read back with the `gguf` package (the format's
reference implementation), their vocabulary checked with `tokenizers` and their
chat template rendered with `jinja2`."""
import hashlib
import math
import re

import gguf
import jinja2
import numpy as np
import pytest
from gguf.quants import dequantize

from conftest import run_inferd

ARCHES = ["llama", "qwen2", "qwen3", "gemma3"]
TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
         "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
FILE_TYPE = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9,
             "Q2_K": 10, "Q3_K": 11, "Q4_K": 14, "Q5_K": 16, "Q6_K": 18, "BF16": 32}
# What a K-quant becomes when rows are not whole 256-blocks (llama.cpp's rule).
K_FALLBACK = {"Q2_K": "Q4_0", "Q3_K": "Q4_0", "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}


def synth(inferd_bin, path, *args):
    run_inferd(inferd_bin, "synth", "-o", path, *args)
    return gguf.GGUFReader(str(path))


def field(r, key):
    f = r.fields[key]
    if f.types[0] == gguf.GGUFValueType.ARRAY:
        if f.types[-1] == gguf.GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        return [f.parts[i][0].item() for i in f.data]
    if f.types[0] == gguf.GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode("utf-8")
    return f.parts[f.data[0]][0].item()


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def expected_tensors(arch, n_layer, tied):
    """Tensor names llama.cpp expects for each architecture (its converter's names)."""
    names = {"token_embd.weight", "output_norm.weight"}
    if not tied:
        names.add("output.weight")
    per = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm",
           "ffn_gate", "ffn_up", "ffn_down"]
    if arch in ("qwen3", "gemma3"):
        per += ["attn_q_norm", "attn_k_norm"]
    if arch == "gemma3":
        per += ["post_attention_norm", "post_ffw_norm"]
    for i in range(n_layer):
        names |= {f"blk.{i}.{p}.weight" for p in per}
        if arch == "qwen2":
            names |= {f"blk.{i}.attn_{p}.bias" for p in "qkv"}
    return names


@pytest.mark.parametrize("arch", ARCHES)
def test_tiny_model_matches_llama_cpp_layout(inferd_bin, tmp_path, arch):
    p = tmp_path / "m.gguf"
    r = synth(inferd_bin, p, "--arch", arch, "--preset", "tiny")
    assert p.stat().st_size < 2_000_000
    assert field(r, "general.architecture") == arch
    assert field(r, "general.file_type") == 0
    n_layer = field(r, f"{arch}.block_count")
    d = field(r, f"{arch}.embedding_length")
    h = field(r, f"{arch}.attention.head_count")
    hkv = field(r, f"{arch}.attention.head_count_kv")
    ff = field(r, f"{arch}.feed_forward_length")
    hd = field(r, f"{arch}.attention.key_length") if f"{arch}.attention.key_length" in r.fields \
        else d // h
    for key in ("context_length", "rope.freq_base", "attention.layer_norm_rms_epsilon"):
        assert f"{arch}.{key}" in r.fields
    if arch == "gemma3":
        assert field(r, "gemma3.attention.sliding_window") > 0
        assert n_layer >= 6  # at least one global layer (every 6th)
    names = {t.name for t in r.tensors}
    tied = "output.weight" not in names
    assert names == expected_tensors(arch, n_layer, tied)
    vocab = len(field(r, "tokenizer.ggml.tokens"))
    shapes = {t.name: list(map(int, t.shape)) for t in r.tensors}
    assert shapes["token_embd.weight"] == [d, vocab]
    assert shapes["blk.0.attn_q.weight"] == [d, h * hd]
    assert shapes["blk.0.attn_k.weight"] == [d, hkv * hd]
    assert shapes["blk.0.attn_output.weight"] == [h * hd, d]
    assert shapes["blk.0.ffn_down.weight"] == [ff, d]
    if arch in ("qwen3", "gemma3"):
        assert shapes["blk.0.attn_q_norm.weight"] == [hd]


@pytest.mark.parametrize("type_", TYPES)
def test_weights_are_sane_in_every_type(inferd_bin, tmp_path, type_):
    # "small" has 256-wide rows, so K-quants apply to every matrix
    r = synth(inferd_bin, tmp_path / "m.gguf", "--preset", "small", "--type", type_,
              "--seed", "3")
    assert field(r, "general.file_type") == FILE_TYPE[type_]
    for t in r.tensors:
        x = dequantize(t.data, t.tensor_type).astype(np.float64).reshape(-1)
        assert np.isfinite(x).all(), t.name
        if len(t.shape) == 1:
            assert t.tensor_type == gguf.GGMLQuantizationType.F32
            if t.name.endswith("norm.weight"):
                assert 0.89 < x.min() and x.max() < 1.11, t.name
            continue
        assert t.tensor_type.name == type_, t.name
        fan_in = int(t.shape[0])
        assert abs(x.mean()) < 0.05 / math.sqrt(fan_in) * 10, t.name
        assert x.std() * math.sqrt(fan_in) == pytest.approx(1.0, rel=0.1), t.name


@pytest.mark.parametrize("type_", list(K_FALLBACK))
def test_k_quants_fall_back_on_narrow_rows(inferd_bin, tmp_path, type_):
    r = synth(inferd_bin, tmp_path / "m.gguf", "--preset", "tiny", "--type", type_)
    for t in r.tensors:
        if len(t.shape) == 2:  # rows of 64 or 128 values: not whole 256-blocks
            assert t.tensor_type.name == K_FALLBACK[type_], t.name


def test_same_bytes_for_any_thread_count_and_run(inferd_bin, tmp_path):
    args = ("--arch", "qwen3", "--preset", "small", "--type", "Q4_0", "--seed", "42")
    a, b, c = tmp_path / "a.gguf", tmp_path / "b.gguf", tmp_path / "c.gguf"
    run_inferd(inferd_bin, "synth", *args, "--threads", "1", "-o", a)
    run_inferd(inferd_bin, "synth", *args, "--threads", "3", "-o", b)
    run_inferd(inferd_bin, "synth", *args, "-o", c)
    assert sha256(a) == sha256(b) == sha256(c)
    d = tmp_path / "d.gguf"
    run_inferd(inferd_bin, "synth", *args[:-1], "43", "-o", d)
    assert sha256(d) != sha256(a)
    # the seed changes the weights, not the vocabulary
    ra, rd = gguf.GGUFReader(str(a)), gguf.GGUFReader(str(d))
    assert field(ra, "tokenizer.ggml.tokens") == field(rd, "tokenizer.ggml.tokens")
    assert field(rd, "inferd.synth.seed") == 43


def test_vocabulary_is_a_valid_byte_level_bpe(inferd_bin, tmp_path):
    r = synth(inferd_bin, tmp_path / "m.gguf", "--dims", "vocab=3000", "--pre", "gpt2")
    assert field(r, "tokenizer.ggml.model") == "gpt2"
    assert field(r, "tokenizer.ggml.pre") == "gpt-2"  # llama.cpp's name for GPT-2's
    tokens = field(r, "tokenizer.ggml.tokens")
    types = field(r, "tokenizer.ggml.token_type")
    merges = field(r, "tokenizer.ggml.merges")
    assert len(tokens) == 3000 == len(set(tokens)) == len(types)
    assert 200 <= len(merges) <= 1000
    ids = {t: i for i, t in enumerate(tokens)}
    bos, eos = field(r, "tokenizer.ggml.bos_token_id"), field(r, "tokenizer.ggml.eos_token_id")
    assert tokens[eos] == "<|im_end|>" and tokens[bos] == "<|endoftext|>"
    assert types[ids["<|im_start|>"]] == 3 and types[eos] == 3  # control tokens
    assert field(r, "tokenizer.ggml.add_bos_token") is False
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers.pre_tokenizers import ByteLevel
    alphabet = ByteLevel.alphabet()
    assert all(ch in ids for ch in alphabet)  # every byte has its token
    for m in merges:
        left, right = m.split(" ")
        assert left in ids and right in ids and left + right in ids, m
    tok = Tokenizer(models.BPE(vocab=ids, merges=[tuple(m.split(" ")) for m in merges]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    text = "The river runs past the old mill, and the children watch the water."
    enc = tok.encode(text)
    assert len(enc.ids) < len(text.encode()) / 2.5  # the merges learnt English
    assert tok.decode(enc.ids) == text


def test_chat_template_renders_chatml(inferd_bin, tmp_path):
    r = synth(inferd_bin, tmp_path / "m.gguf")
    tmpl = field(r, "tokenizer.chat_template")
    out = jinja2.Environment().from_string(tmpl).render(
        messages=[{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Hi"}], add_generation_prompt=True)
    assert out == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                   "<|im_start|>assistant\n")


def llama3_rope_divisors(base, n_rot, factor, low, high, orig):
    """Llama 3.1's frequency scaling, as Meta's reference code describes it, as divisors."""
    out = []
    for i in range(0, n_rot, 2):
        freq = base ** (-i / n_rot)
        wavelen = 2 * math.pi / freq
        if wavelen < orig / high:
            new = freq
        elif wavelen > orig / low:
            new = freq / factor
        else:
            smooth = (orig / wavelen - low) / (high - low)
            new = (1 - smooth) * freq / factor + smooth * freq
        out.append(freq / new)
    return np.array(out)


def test_llama3_presets_carry_rope_freqs(inferd_bin, tmp_path):
    # llama3-1b's shape, cut down to one narrow layer and a small vocabulary
    r = synth(inferd_bin, tmp_path / "m.gguf", "--preset", "llama3-1b",
              "--dims", "layers=1,d=256,heads=4,kv_heads=2,ff=512,vocab=400")
    assert field(r, "llama.rope.freq_base") == 500000.0
    assert field(r, "llama.context_length") == 131072
    rf = next(t for t in r.tensors if t.name == "rope_freqs.weight")
    want = llama3_rope_divisors(500000.0, 64, 32.0, 1.0, 4.0, 8192)
    np.testing.assert_allclose(np.asarray(rf.data, dtype=np.float64), want, rtol=1e-5)
    assert "output.weight" not in {t.name for t in r.tensors}  # Llama 3.2 1B is tied


def test_gemma3_preset_shape(inferd_bin, tmp_path):
    r = synth(inferd_bin, tmp_path / "m.gguf", "--preset", "gemma3-270m",
              "--dims", "layers=6,vocab=600", "--type", "Q8_0")
    assert field(r, "gemma3.attention.key_length") == 256
    assert field(r, "gemma3.attention.head_count_kv") == 1
    assert field(r, "gemma3.attention.sliding_window") == 512
    q = next(t for t in r.tensors if t.name == "blk.0.attn_q.weight")
    assert list(map(int, q.shape)) == [640, 1024]


def test_dims_override_and_validation(inferd_bin, tmp_path):
    r = synth(inferd_bin, tmp_path / "m.gguf", "--arch", "qwen2", "--dims",
              "layers=3,d=96,heads=6,kv_heads=2,ff=160,vocab=700,ctx=1024")
    assert field(r, "qwen2.block_count") == 3
    assert field(r, "qwen2.context_length") == 1024
    assert len(field(r, "tokenizer.ggml.tokens")) == 700
    k = next(t for t in r.tensors if t.name == "blk.2.attn_k.weight")
    assert list(map(int, k.shape)) == [96, 32]
    bad = [("--dims", "heads=5"),            # 64 is not a multiple of 5
           ("--dims", "kv_heads=3"),         # does not divide 4 heads
           ("--dims", "vocab=100"),          # below 256 bytes + specials
           ("--dims", "layers=0"),
           ("--dims", "wings=2"),
           ("--dims", "d=abc"),
           ("--preset", "llama3-8b", "--arch", "gemma3")]
    for args in bad:
        cp = run_inferd(inferd_bin, "synth", *args, "-o", tmp_path / "x.gguf", check=False)
        assert cp.returncode == 2, args
        assert cp.stderr.strip(), args
        assert not (tmp_path / "x.gguf").exists()


def test_usage_errors(inferd_bin, tmp_path):
    out = run_inferd(inferd_bin, "synth", "--help").stdout
    for word in ("--preset", "--dims", "--type", "--seed", "llama3-8b", "qwen3-0.6b", "tiny"):
        assert word in out
    x = tmp_path / "x.gguf"
    cases = [(), ("--preset", "tiny"), ("-o",), ("--frob", "-o", x), ("--type", "Q9_9", "-o", x),
             ("--arch", "gpt2", "-o", x), ("--preset", "huge", "-o", x),
             ("--threads", "0", "-o", x), ("--seed", "-1", "-o", x), ("--pre", "bert", "-o", x)]
    for args in cases:
        cp = run_inferd(inferd_bin, "synth", *args, check=False)
        assert cp.returncode == 2, args
        assert re.search(r"inferd synth: .+", cp.stderr), args


def test_unwritable_output_is_a_runtime_error(inferd_bin, tmp_path):
    cp = run_inferd(inferd_bin, "synth", "-o", tmp_path / "no" / "such" / "dir.gguf", check=False)
    assert cp.returncode == 1
    assert "dir.gguf" in cp.stderr
