"""Weight formats against the gguf package, the format's reference in Python.

Random blocks (random bytes, with every f16 scale replaced by a finite value)
go through `quant_tool dequant` and through gguf.quants.dequantize; the floats
must be equal bit for bit. Where gguf.quants also quantizes (BF16, Q4_0, Q4_1,
Q5_0, Q5_1, Q8_0), the bytes inferd writes for random data must equal gguf's.
"""
import subprocess

import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf import quants

# Offsets of the f16 scale fields in each block (see src/quant/blocks.h); every
# other byte is left random, which exercises every code, sub-scale and bit.
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
BLOCK_BYTES = {T.Q4_0: 18, T.Q4_1: 20, T.Q5_0: 22, T.Q5_1: 24, T.Q8_0: 34, T.Q2_K: 84,
               T.Q3_K: 110, T.Q4_K: 144, T.Q5_K: 176, T.Q6_K: 210}
N_BLOCKS = 4096


def random_f16(rng, n, lo_exp=-14, hi_exp=14):
    """Finite halves with exponents spread over [lo_exp, hi_exp], random signs,
    plus some zeros and subnormals."""
    v = rng.uniform(1, 2, n) * np.exp2(rng.integers(lo_exp, hi_exp + 1, n).astype(np.float64))
    v *= rng.choice([-1.0, 1.0], n)
    h = v.astype(np.float16)
    h[rng.random(n) < 0.01] = 65504.0
    h[rng.random(n) < 0.02] = 0
    sub = rng.random(n) < 0.02
    h[sub] = (rng.integers(1, 1024, int(sub.sum())).astype(np.uint16)).view(np.float16)
    assert np.isfinite(h).all()
    return h


def random_blocks(qtype, rng, n_blocks=N_BLOCKS):
    size = BLOCK_BYTES[qtype]
    raw = rng.integers(0, 256, (n_blocks, size), dtype=np.uint8)
    for off in F16_FIELDS[qtype]:
        raw[:, off:off + 2] = random_f16(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return raw


def run_tool(tool, *args):
    cp = subprocess.run([str(tool("quant_tool")), *map(str, args)], capture_output=True,
                        text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    return cp


def c_dequant(tool, tmp_path, name, data):
    src, dst = tmp_path / "in.bin", tmp_path / "out.f32"
    src.write_bytes(data.tobytes())
    run_tool(tool, "dequant", name, src, dst)
    return np.fromfile(dst, dtype=np.float32)


def c_quant(tool, tmp_path, name, x):
    src, dst = tmp_path / "in.f32", tmp_path / "out.bin"
    src.write_bytes(x.astype(np.float32).tobytes())
    run_tool(tool, "quant", name, src, dst)
    return np.fromfile(dst, dtype=np.uint8)


def assert_bitwise(ours, theirs, what):
    theirs = np.ascontiguousarray(theirs, dtype=np.float32).reshape(-1)
    assert ours.shape == theirs.shape, what
    same = ours.view(np.uint32) == theirs.view(np.uint32)
    if not same.all():
        i = int(np.flatnonzero(~same)[0])
        pytest.fail(f"{what}: {int((~same).sum())} of {same.size} floats differ; first at "
                    f"{i}: inferd {ours[i]!r} ({ours.view(np.uint32)[i]:#010x}), "
                    f"gguf {theirs[i]!r} ({theirs.view(np.uint32)[i]:#010x})")


@pytest.mark.parametrize("qtype", list(BLOCK_BYTES), ids=lambda t: t.name)
def test_dequantize_matches_gguf(tool, tmp_path, qtype):
    rng = np.random.default_rng(1000 + int(qtype))
    blocks = random_blocks(qtype, rng)
    ours = c_dequant(tool, tmp_path, qtype.name, blocks)
    assert_bitwise(ours, quants.dequantize(blocks, qtype), qtype.name)


def test_dequantize_f16_matches_numpy(tool, tmp_path):
    rng = np.random.default_rng(7)
    # every finite half and both infinities, then random ones
    h = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    h = h[~np.isnan(h.view(np.float16))]
    h = np.concatenate([h, random_f16(rng, 10000).view(np.uint16)])
    ours = c_dequant(tool, tmp_path, "F16", h)
    assert_bitwise(ours, quants.dequantize(h.view(np.uint8), T.F16), "F16")


def test_dequantize_bf16_matches_gguf(tool, tmp_path):
    rng = np.random.default_rng(8)
    h = rng.integers(0, 65536, 100000, dtype=np.uint32).astype(np.uint16)
    ours = c_dequant(tool, tmp_path, "BF16", h)
    assert_bitwise(ours, quants.dequantize(h.view(np.uint8), T.BF16), "BF16")


def test_f32_is_identity(tool, tmp_path):
    x = np.random.default_rng(9).standard_normal(4096).astype(np.float32)
    assert_bitwise(c_dequant(tool, tmp_path, "F32", x), x, "F32")
    assert np.array_equal(c_quant(tool, tmp_path, "F32", x), x.view(np.uint8))


def gaussian_rows(rng, n_rows, n_cols):
    """Weight-like data: Gaussian rows of varied scale, a few outliers."""
    x = rng.standard_normal((n_rows, n_cols)) * np.exp(rng.uniform(-6, 3, (n_rows, 1)))
    out = rng.random(x.shape) < 0.002
    x[out] *= 20
    return x.astype(np.float32)


# gguf's quantizers copy ggml's reference ones; inferd's must give the same bytes.
@pytest.mark.parametrize("qtype", [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.BF16],
                         ids=lambda t: t.name)
def test_quantize_matches_gguf(tool, tmp_path, qtype):
    rng = np.random.default_rng(2000 + int(qtype))
    x = gaussian_rows(rng, 256, 256)
    if qtype == T.BF16:  # include specials and exact ties
        x.reshape(-1)[:6] = [np.inf, -np.inf, 0.0, -0.0, 3.4e38, 1e-40]
        x.reshape(-1)[6:10] = np.array([0x3f808000, 0x3f818000, 0xbf808000, 0x00008000],
                                       dtype=np.uint32).view(np.float32)
    else:  # all-zero and constant blocks take the d == 0 and max == min paths
        x[0, :32] = 0
        x[0, 32:64] = 1.5
        x[0, 64:96] = -2.0
    ours = c_quant(tool, tmp_path, qtype.name, x)
    theirs = quants.quantize(x, qtype).reshape(-1)
    assert ours.shape == theirs.shape
    diff = np.flatnonzero(ours != theirs)
    assert diff.size == 0, f"{qtype.name}: {diff.size} bytes differ, first at {diff[0]}"


@pytest.mark.parametrize("qtype", [T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K],
                         ids=lambda t: t.name)
def test_k_quantize_reads_back_in_gguf(tool, tmp_path, qtype):
    """gguf has no K quantizer: check instead that what inferd writes decodes in
    gguf to what inferd decodes, and is close to the input (the tight error
    bounds are in tests/unit/quant)."""
    rng = np.random.default_rng(3000 + int(qtype))
    x = gaussian_rows(rng, 64, 1024)
    q = c_quant(tool, tmp_path, qtype.name, x)
    theirs = quants.dequantize(q, qtype).reshape(x.shape)
    ours = c_dequant(tool, tmp_path, qtype.name, q).reshape(x.shape)
    assert_bitwise(ours.reshape(-1), theirs, qtype.name)
    rel = np.sqrt(((theirs - x) ** 2).mean(axis=1) / (x ** 2).mean(axis=1))
    assert rel.max() < 0.5, rel.max()


def test_unsupported_types_named(tool):
    for name, block, size in [("IQ2_XXS", 256, 66), ("TQ1_0", 256, 54), ("MXFP4", 32, 17),
                              ("IQ4_NL", 32, 18)]:
        out = run_tool(tool, "info", name).stdout.split()
        gt = T[name]
        assert out == [name, str(block), str(size), "0"]
        from gguf import GGML_QUANT_SIZES
        assert GGML_QUANT_SIZES[gt] == (block, size)
    cp = subprocess.run([str(tool("quant_tool")), "dequant", "IQ2_XXS", "/dev/null", "/dev/null"],
                        capture_output=True, text=True)
    assert cp.returncode == 1 and "IQ2_XXS is not supported" in cp.stderr


def test_traits_match_gguf_sizes(tool):
    """Every id gguf knows has the same name, block size and bytes in inferd
    (Q8_1 aside: gguf keeps the 40-byte layout of old ggml; see blocks.h)."""
    from gguf import GGML_QUANT_SIZES
    for gt, (block, size) in GGML_QUANT_SIZES.items():
        out = run_tool(tool, "info", str(int(gt))).stdout.split()
        if gt == T.Q8_1:
            assert out[:3] == ["Q8_1", "32", "36"]
            continue
        assert out[0] == gt.name and out[1:3] == [str(block), str(size)], (gt.name, out)
