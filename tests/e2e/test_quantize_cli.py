"""`inferd quantize`: requantized files read back with the `gguf` package: all
metadata kept, general.file_type updated, weights close to the originals, and
the tensors that cannot take the target keep theirs or fall back."""
import hashlib

import gguf
import numpy as np
import pytest
from gguf.quants import dequantize

from conftest import run_inferd

FILE_TYPE = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9,
             "Q2_K": 10, "Q3_K": 11, "Q4_K": 14, "Q5_K": 16, "Q6_K": 18, "BF16": 32}
# RMS error over RMS value that each format must stay under on std-1/sqrt(n) weights
# (uniform values: a few times the format's step over sqrt(12)).
TOLERANCE = {"F16": 1e-3, "BF16": 8e-3, "Q8_0": 0.01, "Q6_K": 0.03, "Q5_0": 0.06,
             "Q5_1": 0.06, "Q5_K": 0.06, "Q4_0": 0.12, "Q4_1": 0.12, "Q4_K": 0.12,
             "Q3_K": 0.3, "Q2_K": 0.6}


def fields(r):
    out = {}
    for k, f in r.fields.items():
        if k.startswith("GGUF."):
            continue
        out[k] = (tuple(int(t) for t in f.types), [bytes(f.parts[i]) for i in f.data])
    return out


def quantize(inferd_bin, src, dst, type_, *extra):
    run_inferd(inferd_bin, "quantize", src, dst, "--type", type_, *extra)
    return gguf.GGUFReader(str(dst))


def check_requantized(src_path, r_out, type_):
    r_in = gguf.GGUFReader(str(src_path))
    a, b = fields(r_in), fields(r_out)
    assert b.pop("general.file_type")[1][0] == np.uint32(FILE_TYPE[type_]).tobytes()
    a.pop("general.file_type", None)
    b.pop("general.quantization_version")
    a.pop("general.quantization_version", None)
    assert list(a) == list(b) and a == b  # every other key, in order, byte for byte
    assert [t.name for t in r_in.tensors] == [t.name for t in r_out.tensors]
    for ti, to in zip(r_in.tensors, r_out.tensors):
        assert list(ti.shape) == list(to.shape)
        x = dequantize(ti.data, ti.tensor_type).astype(np.float64).reshape(-1)
        y = dequantize(to.data, to.tensor_type).astype(np.float64).reshape(-1)
        if len(ti.shape) == 1:
            assert to.tensor_type == ti.tensor_type, ti.name
            assert np.array_equal(x, y)
            continue
        tol = TOLERANCE.get(to.tensor_type.name, 0.0)
        rel = np.sqrt(np.mean((x - y) ** 2)) / np.sqrt(np.mean(x ** 2))
        assert rel <= tol, (ti.name, to.tensor_type.name, rel)
    return r_in


@pytest.mark.parametrize("type_", ["Q8_0", "Q4_0", "F16", "BF16", "Q4_1", "Q5_0", "Q5_1"])
def test_tiny_f32_requantized(inferd_bin, tmp_path, type_):
    src = tmp_path / "f32.gguf"
    run_inferd(inferd_bin, "synth", "--arch", "qwen2", "-o", src, "--seed", "5")
    r = quantize(inferd_bin, src, tmp_path / "q.gguf", type_)
    check_requantized(src, r, type_)
    for t in r.tensors:
        want = type_ if len(t.shape) == 2 else "F32"
        assert t.tensor_type.name == want, t.name


@pytest.mark.parametrize("type_", ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"])
def test_k_quants_on_wide_rows(inferd_bin, tmp_path, type_):
    src = tmp_path / "f32.gguf"
    run_inferd(inferd_bin, "synth", "--arch", "gemma3", "--preset", "small", "-o", src)
    r = quantize(inferd_bin, src, tmp_path / "q.gguf", type_)
    check_requantized(src, r, type_)
    assert all(t.tensor_type.name == type_ for t in r.tensors if len(t.shape) == 2)


def test_fallbacks_on_narrow_rows(inferd_bin, tmp_path):
    # d = 64: rows are not whole 256-blocks, so Q4_K falls back to Q5_0 (llama.cpp's rule)
    src = tmp_path / "f32.gguf"
    run_inferd(inferd_bin, "synth", "-o", src)
    r = quantize(inferd_bin, src, tmp_path / "q.gguf", "Q4_K")
    check_requantized(src, r, "Q4_K")
    assert {t.tensor_type.name for t in r.tensors if len(t.shape) == 2} == {"Q5_0"}
    # ff = 120: ffn_down rows of 120 values fit no 32-block: F16
    src2 = tmp_path / "f32b.gguf"
    run_inferd(inferd_bin, "synth", "--dims", "ff=120", "-o", src2)
    r2 = quantize(inferd_bin, src2, tmp_path / "q2.gguf", "Q8_0")
    types = {t.name: t.tensor_type.name for t in r2.tensors}
    assert types["blk.0.ffn_down.weight"] == "F16"
    assert types["blk.0.ffn_up.weight"] == "Q8_0"


def test_requantizing_a_quantized_file(inferd_bin, tmp_path):
    src = tmp_path / "q8.gguf"
    run_inferd(inferd_bin, "synth", "--preset", "small", "--type", "Q8_0", "-o", src)
    r = quantize(inferd_bin, src, tmp_path / "q4.gguf", "Q4_0")
    check_requantized(src, r, "Q4_0")


def test_output_independent_of_threads(inferd_bin, tmp_path):
    src = tmp_path / "f32.gguf"
    run_inferd(inferd_bin, "synth", "--preset", "small", "-o", src)
    outs = []
    for n in ("1", "3"):
        dst = tmp_path / f"q{n}.gguf"
        run_inferd(inferd_bin, "quantize", src, dst, "--type", "Q4_K", "--threads", n)
        outs.append(hashlib.sha256(dst.read_bytes()).hexdigest())
    assert outs[0] == outs[1]


def test_stories_q8_0_matches_llama_cpp(inferd_bin, tmp_path, testdata):
    """testdata's derived Q8_0 file was made by llama.cpp from the F32 one: same
    layout (ffn_down, 172 wide, falls back to F16) and the same bytes."""
    src = testdata / "models" / "stories260K.gguf"
    ref = gguf.GGUFReader(str(testdata / "models" / "derived" / "stories260K-Q8_0-ffndownF16.gguf"))
    r = quantize(inferd_bin, src, tmp_path / "q8.gguf", "Q8_0")
    check_requantized(src, r, "Q8_0")
    mine = {t.name: t for t in r.tensors}
    for t in ref.tensors:
        m = mine[t.name]
        assert m.tensor_type == t.tensor_type, t.name
        assert np.array_equal(np.asarray(m.data).view(np.uint8), np.asarray(t.data).view(np.uint8)), t.name


def test_usage_and_file_errors(inferd_bin, tmp_path):
    out = run_inferd(inferd_bin, "quantize", "--help").stdout
    assert "--type" in out and "fallback" in out
    src = tmp_path / "f32.gguf"
    run_inferd(inferd_bin, "synth", "-o", src)
    dst = tmp_path / "out.gguf"
    for args in [(), (src,), (src, dst), (src, dst, "--type", "Q9_9"),
                 (src, dst, "--type", "IQ2_XXS"), (src, dst, "--type", "Q8_0", "--frob"),
                 (src, dst, "extra", "--type", "Q8_0"), (src, dst, "--type", "Q8_0", "--threads", "0")]:
        cp = run_inferd(inferd_bin, "quantize", *args, check=False)
        assert cp.returncode == 2, args
        assert cp.stderr.strip()
    cp = run_inferd(inferd_bin, "quantize", tmp_path / "absent.gguf", dst, "--type", "Q8_0",
                    check=False)
    assert cp.returncode == 1 and "absent.gguf" in cp.stderr
    cp = run_inferd(inferd_bin, "quantize", src, tmp_path / "." / src.name, "--type", "Q8_0",
                    check=False)
    assert cp.returncode == 1 and "overwrite" in cp.stderr
    cp = run_inferd(inferd_bin, "quantize", src, tmp_path / "no" / "dir" / "x.gguf", "--type",
                    "Q8_0", check=False)
    assert cp.returncode == 1
    assert not dst.exists()
