#!/usr/bin/env python3
"""make_golden_logits.py: golden logits from Hugging Face transformers for small
random models of each architecture inferd runs (llama, qwen2, qwen3, gemma3).

For each architecture this script
  1. builds a small random model with torch + transformers (3 layers, 3 query
     heads and 1 KV head (GQA), head_dim 16 or 32, vocab 300), float32, eager
     attention;
  2. writes its weights to tests/golden/<arch>.gguf (F32) with the gguf package,
     under llama.cpp's tensor names and metadata keys, converted the way
     llama.cpp's converter does (llama q/k rows reordered for adjacent-pair
     RoPE; gemma norms stored as 1 + w), plus a minimal SentencePiece-style
     vocabulary so that inferd's loaders accept the file;
  3. runs a fixed prompt of token ids and stores the logits of every position
     in tests/golden/<arch>.json;
  4. checks itself: an independent float64 numpy forward pass over the GGUF
     file it just wrote must reproduce transformers' logits (within 1e-4
     relative), so a conversion mistake fails here, not later in inferd's test.

Depends only on torch, transformers, numpy and gguf. Run from the repository
root (any directory works; outputs go next to this script unless --out):

    python tests/golden/make_golden_logits.py            # every variant
    python tests/golden/make_golden_logits.py --arch gemma3 --out /tmp/g

Variants: the four architectures, plus llama with Llama 3.1 RoPE scaling
(rope_freqs.weight) and qwen2 with YaRN (rope.scaling.* keys).

Exit status 0 when every architecture was written and passed its self-check;
1 otherwise (the failing ones are named; the others are still written).
"""
import argparse
import json
import math
import pathlib
import sys
import traceback

import numpy as np

VOCAB = 300
# name -> (architecture, RoPE scaling in transformers' terms or None). The
# scaled variants use a short original context so that scaling reaches the
# dims a 14-token prompt exercises.
VARIANTS = {
    "llama": ("llama", None),
    "qwen2": ("qwen2", None),
    "qwen3": ("qwen3", None),
    "gemma3": ("gemma3", None),
    "llama-rope-llama3": ("llama", {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                    "high_freq_factor": 4.0,
                                    "original_max_position_embeddings": 64}),
    "qwen2-rope-yarn": ("qwen2", {"rope_type": "yarn", "factor": 4.0,
                                  "original_max_position_embeddings": 64}),
}
PROMPT = [1, 17, 254, 42, 3, 299, 100, 7, 7, 181, 64, 2, 150, 33]  # 14 positions
SEED = 1234


# ---------------------------------------------------------------------------
# Configurations


def hf_config(arch, scaling=None):
    """The config of one architecture; dims chosen to be awkward on purpose."""
    import transformers as tf

    if scaling is not None:
        cls = {"llama": tf.LlamaConfig, "qwen2": tf.Qwen2Config}[arch]
        base = 10000.0 if arch == "llama" else 1000000.0
        # YaRN's context is the original one times the factor (transformers checks).
        ctx = 512 if scaling["rope_type"] != "yarn" else int(
            scaling["original_max_position_embeddings"] * scaling["factor"])
        kw = dict(vocab_size=VOCAB, num_hidden_layers=3, num_attention_heads=3,
                  num_key_value_heads=1, max_position_embeddings=ctx, hidden_size=48,
                  intermediate_size=80, rms_norm_eps=1e-5, tie_word_embeddings=arch != "llama")
        try:  # transformers 5: everything RoPE lives in rope_parameters
            return cls(rope_parameters=dict(rope_theta=base, **scaling), **kw)
        except TypeError:
            return cls(rope_theta=base, rope_scaling=dict(scaling), **kw)

    common = dict(vocab_size=VOCAB, num_hidden_layers=3, num_attention_heads=3,
                  num_key_value_heads=1, max_position_embeddings=512, torch_dtype="float32")
    if arch == "llama":
        cfg = tf.LlamaConfig(hidden_size=48, intermediate_size=80, rms_norm_eps=1e-5,
                             rope_theta=10000.0, tie_word_embeddings=False, attention_bias=False,
                             mlp_bias=False, **common)
    elif arch == "qwen2":
        cfg = tf.Qwen2Config(hidden_size=48, intermediate_size=80, rms_norm_eps=1e-6,
                             rope_theta=1000000.0, tie_word_embeddings=True,
                             use_sliding_window=False, **common)
    elif arch == "qwen3":
        cfg = tf.Qwen3Config(hidden_size=64, intermediate_size=96, head_dim=32, rms_norm_eps=1e-6,
                             rope_theta=1000000.0, tie_word_embeddings=True, attention_bias=False,
                             use_sliding_window=False, **common)
    elif arch == "gemma3":
        kw = dict(hidden_size=96, intermediate_size=128, head_dim=32, query_pre_attn_scalar=32,
                  rms_norm_eps=1e-6, rope_theta=1000000.0, rope_local_base_freq=10000.0,
                  sliding_window=4, hidden_activation="gelu_pytorch_tanh",
                  final_logit_softcapping=None, attn_logit_softcapping=None,
                  tie_word_embeddings=True, rope_scaling=None, **common)
        # Layers 0 and 2 local, layer 1 global: a period of 2 in llama.cpp's terms.
        layer_types = ["sliding_attention", "full_attention", "sliding_attention"]
        try:
            cfg = tf.Gemma3TextConfig(layer_types=layer_types, sliding_window_pattern=2, **kw)
        except TypeError:
            cfg = tf.Gemma3TextConfig(sliding_window_pattern=2, **kw)
    else:
        raise ValueError(arch)
    return cfg


def rope_theta_of(cfg, kind="full_attention"):
    """The RoPE base transformers will actually use (old and new config styles)."""
    rp = getattr(cfg, "rope_parameters", None)
    if isinstance(rp, dict):
        if kind in rp and isinstance(rp[kind], dict) and "rope_theta" in rp[kind]:
            return float(rp[kind]["rope_theta"])
        if "rope_theta" in rp:
            if kind == "sliding_attention" and getattr(cfg, "rope_local_base_freq", None):
                return float(cfg.rope_local_base_freq)
            return float(rp["rope_theta"])
    if kind == "sliding_attention":
        return float(cfg.rope_local_base_freq)
    return float(cfg.rope_theta)


def sliding_layers(cfg, model):
    """Which layers attend to a window, as transformers built them."""
    n = cfg.num_hidden_layers
    lt = getattr(cfg, "layer_types", None)
    if lt:
        return [t == "sliding_attention" for t in lt]
    out = []
    for i in range(n):
        attn = model.model.layers[i].self_attn
        out.append(bool(getattr(attn, "is_sliding", False) or getattr(attn, "sliding_window", None)))
    return out


# ---------------------------------------------------------------------------
# Model, weights, logits (torch side)


def build_hf(arch, scaling=None):
    import torch
    import transformers as tf

    torch.manual_seed(SEED)
    cfg = hf_config(arch, scaling)
    cls = {"llama": tf.LlamaForCausalLM, "qwen2": tf.Qwen2ForCausalLM,
           "qwen3": tf.Qwen3ForCausalLM, "gemma3": tf.Gemma3ForCausalLM}[arch]
    try:
        cfg._attn_implementation = "eager"
    except Exception:
        pass
    model = cls(cfg).float().eval()
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name:
                if arch == "gemma3":  # used as (1 + w)
                    p.copy_(torch.empty_like(p).uniform_(-0.2, 0.2, generator=g))
                else:
                    p.copy_(torch.empty_like(p).uniform_(0.8, 1.2, generator=g))
            elif name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif p.dim() == 2:
                fan_in = p.shape[1]
                std = 1.0 if "embed_tokens" in name else 1.0 / math.sqrt(fan_in)
                p.copy_(torch.randn(p.shape, generator=g) * std)
            else:
                raise RuntimeError(f"unexpected parameter {name} {tuple(p.shape)}")
        logits = model(torch.tensor([PROMPT])).logits[0].float().cpu().numpy()
    return cfg, model, logits


def state_numpy(model):
    return {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------------------
# GGUF writing (llama.cpp names and conventions)


def interleave_rope_rows(w, n_head):
    """HF rotates (x[i], x[i + hd/2]) of each head; llama's GGUF layout rotates
    adjacent pairs (x[2i], x[2i+1]). Reorder each head's output rows so that
    row 2i holds HF row i and row 2i+1 holds HF row i + hd/2."""
    rows, cols = w.shape[0], w.shape[1:] if w.ndim > 1 else ()
    hd = rows // n_head
    return w.reshape(n_head, 2, hd // 2, *cols).swapaxes(1, 2).reshape(w.shape)


def gguf_tensors(arch, cfg, sd):
    """{gguf name: float32 array (rows, cols)} from the HF state dict."""
    out = {}
    L = cfg.num_hidden_layers
    h, hkv = cfg.num_attention_heads, cfg.num_key_value_heads
    norm_add = 1.0 if arch == "gemma3" else 0.0

    def put(name, arr, is_norm=False):
        a = np.asarray(arr, dtype=np.float64)
        if is_norm:
            a = a + norm_add
        out[name] = np.ascontiguousarray(a.astype(np.float32))

    put("token_embd.weight", sd["model.embed_tokens.weight"])
    put("output_norm.weight", sd["model.norm.weight"], True)
    if not cfg.tie_word_embeddings:
        put("output.weight", sd["lm_head.weight"])
    for i in range(L):
        p = f"model.layers.{i}."
        b = f"blk.{i}."
        wq, wk = sd[p + "self_attn.q_proj.weight"], sd[p + "self_attn.k_proj.weight"]
        bq, bk = sd.get(p + "self_attn.q_proj.bias"), sd.get(p + "self_attn.k_proj.bias")
        if arch == "llama":
            wq, wk = interleave_rope_rows(wq, h), interleave_rope_rows(wk, hkv)
            if bq is not None:
                bq, bk = interleave_rope_rows(bq, h), interleave_rope_rows(bk, hkv)
        put(b + "attn_q.weight", wq)
        put(b + "attn_k.weight", wk)
        put(b + "attn_v.weight", sd[p + "self_attn.v_proj.weight"])
        put(b + "attn_output.weight", sd[p + "self_attn.o_proj.weight"])
        if bq is not None:
            put(b + "attn_q.bias", bq)
            put(b + "attn_k.bias", bk)
            put(b + "attn_v.bias", sd[p + "self_attn.v_proj.bias"])
        if p + "self_attn.q_norm.weight" in sd:
            put(b + "attn_q_norm.weight", sd[p + "self_attn.q_norm.weight"], True)
            put(b + "attn_k_norm.weight", sd[p + "self_attn.k_norm.weight"], True)
        put(b + "attn_norm.weight", sd[p + "input_layernorm.weight"], True)
        if arch == "gemma3":
            put(b + "post_attention_norm.weight", sd[p + "post_attention_layernorm.weight"], True)
            put(b + "ffn_norm.weight", sd[p + "pre_feedforward_layernorm.weight"], True)
            put(b + "post_ffw_norm.weight", sd[p + "post_feedforward_layernorm.weight"], True)
        else:
            put(b + "ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
        put(b + "ffn_gate.weight", sd[p + "mlp.gate_proj.weight"])
        put(b + "ffn_up.weight", sd[p + "mlp.up_proj.weight"])
        put(b + "ffn_down.weight", sd[p + "mlp.down_proj.weight"])
    return out


def llama3_rope_freqs(base, n_rot, sc):
    """Llama 3.1 scaling as llama.cpp's converter bakes it into rope_freqs.weight:
    one divisor per rotary pair (1 for short wavelengths, factor for long ones,
    a linear blend in orig_ctx / wavelength between)."""
    orig, factor = sc["original_max_position_embeddings"], sc["factor"]
    lo, hi = sc["low_freq_factor"], sc["high_freq_factor"]
    out = []
    for i in range(n_rot // 2):
        wavelen = 2 * math.pi / base ** (-2.0 * i / n_rot)
        if wavelen < orig / hi:
            out.append(1.0)
        elif wavelen > orig / lo:
            out.append(factor)
        else:
            smooth = (orig / wavelen - lo) / (hi - lo)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def scaling_metadata(scaling):
    if scaling is None or scaling["rope_type"] != "yarn":
        return []
    return [("rope.scaling.factor", "f32", scaling["factor"]),
            ("rope.scaling.original_context_length", "u32",
             scaling["original_max_position_embeddings"]),
            ("rope.scaling.type", "str", "yarn")]


def gguf_metadata(arch, cfg, model):
    """(key, kind, value) triples: llama.cpp's keys for what this model needs."""
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    md = [
        ("context_length", "u32", cfg.max_position_embeddings),
        ("embedding_length", "u32", cfg.hidden_size),
        ("block_count", "u32", cfg.num_hidden_layers),
        ("feed_forward_length", "u32", cfg.intermediate_size),
        ("attention.head_count", "u32", cfg.num_attention_heads),
        ("attention.head_count_kv", "u32", cfg.num_key_value_heads),
        ("attention.key_length", "u32", hd),
        ("attention.value_length", "u32", hd),
        ("attention.layer_norm_rms_epsilon", "f32", cfg.rms_norm_eps),
        ("rope.freq_base", "f32", rope_theta_of(cfg)),
        ("rope.dimension_count", "u32", hd),
        ("vocab_size", "u32", cfg.vocab_size),
    ]
    if arch == "gemma3":
        sl = sliding_layers(cfg, model)
        period = 2
        want = [i % period != period - 1 for i in range(cfg.num_hidden_layers)]
        if sl != want:
            raise RuntimeError(f"gemma3 sliding layers {sl} are not the period-{period} pattern")
        md += [
            ("attention.sliding_window", "u32", cfg.sliding_window),
            ("attention.sliding_window_pattern", "u32", period),
            ("rope.freq_base_swa", "f32", rope_theta_of(cfg, "sliding_attention")),
        ]
    return md


def write_gguf(path, arch, md, tensors):
    import gguf

    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(f"inferd golden {arch}")
    for key, kind, val in md:
        full = f"{arch}.{key}"
        if kind == "u32":
            w.add_uint32(full, int(val))
        elif kind == "str":
            w.add_string(full, val)
        else:
            w.add_float32(full, float(val))
    # A minimal SentencePiece-style vocabulary: unk, bos, eos, 256 byte tokens, fillers.
    toks = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    toks += [f"\u2581t{i}" for i in range(VOCAB - len(toks))]
    types = [2, 3, 3] + [6] * 256 + [1] * (VOCAB - 259)
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores([0.0] * 259 + [-float(i) for i in range(VOCAB - 259)])
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    for name, arr in tensors.items():
        w.add_tensor(name, arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ---------------------------------------------------------------------------
# Independent numpy forward over the written GGUF (the self-check)


def read_gguf(path, arch):
    import gguf

    r = gguf.GGUFReader(str(path))
    t = {}
    for ten in r.tensors:
        shape = [int(x) for x in reversed(ten.shape.tolist())]  # outer first
        t[ten.name] = np.asarray(ten.data, dtype=np.float64).reshape(shape)
    kv = {}
    for f in r.fields.values():
        if f.name.startswith(arch + "."):
            part = f.parts[f.data[0]] if f.data else None
            if part is None:
                continue
            if f.types and f.types[0] == gguf.GGUFValueType.STRING:
                kv[f.name[len(arch) + 1:]] = bytes(part).decode()
            else:
                kv[f.name[len(arch) + 1:]] = part[0].item()
    return t, kv


def np_forward(path, arch, ids):
    t, kv = read_gguf(path, arch)
    d, L = kv["embedding_length"], kv["block_count"]
    h, hkv, hd = kv["attention.head_count"], kv["attention.head_count_kv"], kv["attention.key_length"]
    eps = kv["attention.layer_norm_rms_epsilon"]
    neox = arch != "llama"
    n = len(ids)

    def rms(x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w

    ff = t.get("rope_freqs.weight")
    yarn = kv.get("rope.scaling.type") == "yarn"

    def rope(x, base, scaled=True):  # x (n, heads, hd)
        half = hd // 2
        i = np.arange(half)
        ext = base ** (-i * 2.0 / hd)                          # extrapolated frequency
        if ff is not None and scaled:
            ext = ext / ff
        inv, mscale = ext, 1.0
        if yarn and scaled:
            # YaRN: interpolate (divide by the factor) the dims that turn less
            # than beta_slow times over the original context, keep those that
            # turn more than beta_fast times, ramp linearly between.
            factor, orig = kv["rope.scaling.factor"], kv["rope.scaling.original_context_length"]

            def dim_of(turns):
                return hd * math.log(orig / (turns * 2 * math.pi)) / (2 * math.log(base))
            lo, hi = max(math.floor(dim_of(32)), 0), min(math.ceil(dim_of(1)), hd - 1)
            keep = 1 - np.clip((i - lo) / max(hi - lo, 0.001), 0, 1)
            inv = (ext / factor) * (1 - keep) + ext * keep
            mscale = 1 + 0.1 * math.log(factor)
        ang = np.arange(n)[:, None] * inv[None, :]            # (n, half)
        c, s = np.cos(ang)[:, None, :] * mscale, np.sin(ang)[:, None, :] * mscale
        y = x.copy()
        if neox:
            a, b = x[..., :half], x[..., half:]
            y[..., :half], y[..., half:] = a * c - b * s, a * s + b * c
        else:
            a, b = x[..., 0::2], x[..., 1::2]
            y[..., 0::2], y[..., 1::2] = a * c - b * s, a * s + b * c
        return y

    x = t["token_embd.weight"][ids]
    if arch == "gemma3":
        x = x * np.float64(np.float32(math.sqrt(d)))
    period = kv.get("attention.sliding_window_pattern", 0) or 0
    window = kv.get("attention.sliding_window", 0) or 0
    for i in range(L):
        b = f"blk.{i}."
        sliding = arch == "gemma3" and window and (i % period != period - 1)
        base = kv["rope.freq_base_swa"] if sliding else kv["rope.freq_base"]
        xn = rms(x, t[b + "attn_norm.weight"])
        q, k, v = (xn @ t[b + f"attn_{c}.weight"].T for c in "qkv")
        if b + "attn_q.bias" in t:
            q, k, v = q + t[b + "attn_q.bias"], k + t[b + "attn_k.bias"], v + t[b + "attn_v.bias"]
        q, k, v = q.reshape(n, h, hd), k.reshape(n, hkv, hd), v.reshape(n, hkv, hd)
        if b + "attn_q_norm.weight" in t:
            q, k = rms(q, t[b + "attn_q_norm.weight"]), rms(k, t[b + "attn_k_norm.weight"])
        q, k = rope(q, base), rope(k, base)
        scale = 1.0 / math.sqrt(hd)
        out = np.zeros((n, h, hd))
        for r in range(n):
            lo = max(0, r - window + 1) if sliding else 0
            for j in range(h):
                g = j // (h // hkv)
                s = (k[lo:r + 1, g, :] @ q[r, j, :]) * scale
                p = np.exp(s - s.max())
                p /= p.sum()
                out[r, j] = p @ v[lo:r + 1, g, :]
        o = out.reshape(n, h * hd) @ t[b + "attn_output.weight"].T
        if arch == "gemma3":
            o = rms(o, t[b + "post_attention_norm.weight"])
        x = x + o
        xn = rms(x, t[b + "ffn_norm.weight"])
        gt, up = xn @ t[b + "ffn_gate.weight"].T, xn @ t[b + "ffn_up.weight"].T
        if arch == "gemma3":
            act = 0.5 * gt * (1 + np.tanh(math.sqrt(2 / math.pi) * (gt + 0.044715 * gt ** 3)))
        else:
            act = gt / (1 + np.exp(-gt))
        y = (act * up) @ t[b + "ffn_down.weight"].T
        if arch == "gemma3":
            y = rms(y, t[b + "post_ffw_norm.weight"])
        x = x + y
    x = rms(x, t["output_norm.weight"])
    w_out = t.get("output.weight", t["token_embd.weight"])
    return x @ w_out.T


def rel_diff(a, b):
    """Largest |a - b| of each row over that row's largest |b|, worst row."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.max(np.abs(a - b), axis=1) / np.maximum(np.max(np.abs(b), axis=1), 1e-30)))


# ---------------------------------------------------------------------------


def make(name, outdir):
    import torch
    import transformers

    arch, scaling = VARIANTS[name]
    cfg, model, logits = build_hf(arch, scaling)
    sd = state_numpy(model)
    tensors = gguf_tensors(arch, cfg, sd)
    md = gguf_metadata(arch, cfg, model) + scaling_metadata(scaling)
    if scaling is not None and scaling["rope_type"] == "llama3":
        hd = cfg.hidden_size // cfg.num_attention_heads
        tensors["rope_freqs.weight"] = llama3_rope_freqs(rope_theta_of(cfg), hd, scaling)
    gpath = outdir / f"{name}.gguf"
    write_gguf(gpath, arch, md, tensors)
    ref = np_forward(gpath, arch, PROMPT)
    d = rel_diff(logits, ref)
    if not np.all(np.isfinite(logits)):
        raise RuntimeError("transformers produced non-finite logits")
    # Random logits of a 3-layer model still differ from position to position;
    # a constant row would mean the prompt did not reach the output.
    if float(np.std(logits[:, :].std(axis=0))) == 0.0:
        raise RuntimeError("logits do not depend on the position")
    doc = {
        "what": f"logits of every position of a fixed prompt, {name}, random weights, float32, "
                f"from transformers {transformers.__version__} (torch {torch.__version__}); "
                f"weights in {name}.gguf",
        "arch": arch,
        "rope_scaling": scaling,
        "prompt_ids": PROMPT,
        "n_vocab": int(logits.shape[1]),
        "numpy_check_rel_diff": d,
        "logits": [[float(f"{v:.8g}") for v in row] for row in logits.tolist()],
    }
    (outdir / f"{name}.json").write_text(json.dumps(doc) + "\n")
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", action="append", choices=list(VARIANTS),
                    help="one variant (repeatable); default: all")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parent))
    args = ap.parse_args()
    outdir = pathlib.Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    failed = []
    for arch in args.arch or list(VARIANTS):
        try:
            d = make(arch, outdir)
            ok = d <= 1e-4
            print(f"{arch}: wrote {arch}.gguf and {arch}.json; numpy forward vs transformers "
                  f"max rel diff {d:.2e} {'ok' if ok else 'FAILED (> 1e-4)'}")
            if not ok:
                failed.append(arch)
        except Exception:
            traceback.print_exc()
            print(f"{arch}: FAILED")
            failed.append(arch)
    if failed:
        print("failed:", ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
