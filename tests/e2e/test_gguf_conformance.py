"""GGUF conformance against the format's reference implementation, the `gguf` package.

Both directions:
- files gguf's GGUFWriter writes (every value type, nested arrays, arrays of strings,
  unicode keys and values, every tensor type with random data, custom alignment) are
  read by inferd (tests/tools/gguf_dump) exactly as gguf's GGUFReader reads them;
- files inferd's writer writes (tests/tools/gguf_write, from a JSON description) are
  read by GGUFReader exactly as described, including what GGUFWriter cannot write
  (empty arrays, empty nested arrays, every array element type).
Plus every real GGUF at hand, read by both, must agree; and GGUF v1 is refused.
"""
import json
import math
import subprocess
import zlib

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGUFReader, GGUFValueType, GGUFWriter  # noqa: E402
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType  # noqa: E402

INT64_MAX = 2**63 - 1

# Block formats to exercise. Q8_1 is left out: gguf-py's size table says 40 bytes
# per block (two f32 from an old layout), ggml's C struct (what files hold, and what
# quant_traits_of says) is 36 (two f16 + 32 int8). It is a runtime-only format that
# no model file stores, so the two sides cannot and need not agree on it.
QUANT_TYPES = {q: bs for q, bs in GGML_QUANT_SIZES.items() if q != GGMLQuantizationType.Q8_1}


# ---- canonical form (the one gguf_dump prints) -------------------------------------

def _scalar(x, vtype):
    if vtype in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        x = float(x)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if vtype == GGUFValueType.BOOL:
        return bool(x)
    x = int(x)
    return str(x) if x > INT64_MAX else x


def _walk(parts, i, vtype):
    """Decodes one value from GGUFReader's flat list of parts; returns (value, next i)."""
    if vtype == GGUFValueType.STRING:
        raw = parts[i + 1].tobytes()
        try:
            return raw.decode("utf-8"), i + 2
        except UnicodeDecodeError:
            return {"hex": raw.hex()}, i + 2
    if vtype == GGUFValueType.ARRAY:
        et = GGUFValueType(int(parts[i][0]))
        n = int(parts[i + 1][0])
        i += 2
        items = []
        for _ in range(n):
            v, i = _walk(parts, i, et)
            items.append(v)
        return {"elem_type": et.name, "items": items}, i
    return _scalar(parts[i][0], vtype), i + 1


def reference_reading(path):
    """What gguf's GGUFReader sees, in gguf_dump's JSON form."""
    r = GGUFReader(str(path))
    kv = []
    for name, field in list(r.fields.items())[3:]:  # skip GGUF.version/tensor_count/kv_count
        vtype = GGUFValueType(int(field.parts[2][0]))
        value, end = _walk(field.parts, 3, vtype)
        assert end == len(field.parts)
        kv.append({"key": name, "type": vtype.name, "value": value})
    tensors = []
    for t in r.tensors:
        tensors.append({
            "name": t.name, "type": int(t.tensor_type), "ne": [int(x) for x in t.shape],
            "offset": int(t.data_offset) - int(r.data_offset), "nbytes": int(t.n_bytes),
            "crc32": zlib.crc32(t.data.tobytes()),
        })
    version = int(r.fields["GGUF.version"].parts[0][0])
    return {"version": version, "alignment": int(r.alignment), "kv": kv, "tensors": tensors,
            "data_offset": int(r.data_offset)}


def inferd_reading(tool, path):
    cp = subprocess.run([str(tool("gguf_dump")), str(path)], capture_output=True, text=True,
                        timeout=300)
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)


def assert_same_reading(tool, path):
    ours = inferd_reading(tool, path)
    ref = reference_reading(path)
    ours_cmp = {k: ours[k] for k in ref}
    if ref["kv"] != ours_cmp["kv"]:
        for a, b in zip(ref["kv"], ours_cmp["kv"]):
            assert a == b, f"{path}: metadata differs"
    if not ref["tensors"]:
        # With no tensors the data section is virtual: both agree only where it exists.
        ours_cmp["data_offset"] = ref["data_offset"]
    assert ours_cmp == ref, f"{path}: readings differ"
    return ours


# ---- gguf writes, inferd reads ------------------------------------------------------

SCALAR_ADDERS = [
    ("add_uint8", GGUFValueType.UINT8, [0, 255]),
    ("add_int8", GGUFValueType.INT8, [-128, 127]),
    ("add_uint16", GGUFValueType.UINT16, [0, 65535]),
    ("add_int16", GGUFValueType.INT16, [-32768, 32767]),
    ("add_uint32", GGUFValueType.UINT32, [0, 2**32 - 1]),
    ("add_int32", GGUFValueType.INT32, [-2**31, 2**31 - 1]),
    ("add_uint64", GGUFValueType.UINT64, [0, 2**64 - 1]),
    ("add_int64", GGUFValueType.INT64, [-2**63, 2**63 - 1]),
    ("add_float32", GGUFValueType.FLOAT32, [0.0, -1.5, 3.4028234663852886e38, 1e-45]),
    ("add_float64", GGUFValueType.FLOAT64, [0.1, -1e300, 5e-324]),
    ("add_bool", GGUFValueType.BOOL, [True, False]),
]

ARRAY_NP = {
    GGUFValueType.UINT8: np.uint8, GGUFValueType.INT8: np.int8,
    GGUFValueType.UINT16: np.uint16, GGUFValueType.INT16: np.int16,
    GGUFValueType.UINT32: np.uint32, GGUFValueType.INT32: np.int32,
    GGUFValueType.UINT64: np.uint64, GGUFValueType.INT64: np.int64,
    GGUFValueType.FLOAT32: np.float32, GGUFValueType.FLOAT64: np.float64,
}


def random_array(rng, vtype, n):
    dt = ARRAY_NP[vtype]
    if np.issubdtype(dt, np.floating):
        return rng.standard_normal(n).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=n, dtype=dt, endpoint=True)


def quant_tensor_bytes(rng, qtype, rows, blocks):
    block, size = GGML_QUANT_SIZES[qtype]
    data = rng.integers(0, 256, size=(rows, blocks * size), dtype=np.uint8)
    return data, [rows, blocks * block]


def write_reference_file(path, alignment, rng):
    """A file with everything GGUFWriter can write; returns the expected (key, type, value)."""
    w = GGUFWriter(str(path), arch="conformance")
    expected = [("general.architecture", "STRING", "conformance")]
    if alignment:
        w.add_custom_alignment(alignment)
        expected.append(("general.alignment", "UINT32", alignment))
    for adder, vtype, values in SCALAR_ADDERS:
        for j, v in enumerate(values):
            key = f"scalar.{vtype.name.lower()}.{j}"
            getattr(w, adder)(key, v)
            if vtype == GGUFValueType.FLOAT32:
                v = float(np.float32(v))
            expected.append((key, vtype.name, _scalar(v, vtype)))
    # (add_string drops empty strings; empty ones are covered the other way round)
    for j, s in enumerate(["plain", "h\u00e9llo w\u00f6rld", "\u65e5\u672c\u8a9e \U0001F600",
                           "tab\tnl\nquote\"back\\", "x" * 5000]):
        w.add_string(f"string.{j}", s)
        expected.append((f"string.{j}", "STRING", s))
    w.add_string("cl\u00e9.\u00fcnicode.\u65e5\u672c", "unicode key")
    expected.append(("cl\u00e9.\u00fcnicode.\u65e5\u672c", "STRING", "unicode key"))
    for vtype, dt in ARRAY_NP.items():
        arr = random_array(rng, vtype, 37)
        key = f"array.{vtype.name.lower()}"
        w.add_key_value(key, arr.tolist(), GGUFValueType.ARRAY, sub_type=vtype)
        items = [_scalar(x, vtype) for x in arr.tolist()]
        expected.append((key, "ARRAY", {"elem_type": vtype.name, "items": items}))
    bools = [bool(x) for x in rng.integers(0, 2, 19)]
    w.add_array("array.bool", bools)
    expected.append(("array.bool", "ARRAY", {"elem_type": "BOOL", "items": bools}))
    strs = ["", "a", "\u00e9\u00e8", "longer string with spaces", "\U0001F600"] * 20
    w.add_array("array.string", strs)
    expected.append(("array.string", "ARRAY", {"elem_type": "STRING", "items": strs}))
    nested = [[1, 2, 3], [4], [-5, 6]]
    w.add_array("array.nested", nested)
    expected.append(("array.nested", "ARRAY", {"elem_type": "ARRAY", "items": [
        {"elem_type": "INT32", "items": x} for x in nested]}))
    nested_str = [["a", "bc"], ["\u00e9"]]
    w.add_array("array.nested_str", nested_str)
    expected.append(("array.nested_str", "ARRAY", {"elem_type": "ARRAY", "items": [
        {"elem_type": "STRING", "items": x} for x in nested_str]}))
    deep = [[[1.5, 2.5]], [[3.5], [4.5, 5.5]]]
    w.add_array("array.deep", deep)
    expected.append(("array.deep", "ARRAY", {"elem_type": "ARRAY", "items": [
        {"elem_type": "ARRAY", "items": [{"elem_type": "FLOAT32", "items": y} for y in x]}
        for x in deep]}))

    tensors = []
    # Plain numpy tensors of 1 to 4 dims (GGUFWriter stores numpy's shape reversed).
    for shape, dt in [((7,), np.float32), ((3, 5), np.float16), ((2, 3, 4), np.float32),
                      ((2, 1, 3, 2), np.int32), ((9,), np.int8), ((4, 4), np.float64),
                      ((5,), np.int16), ((3,), np.int64)]:
        name = f"plain.{len(tensors)}"
        arr = (rng.standard_normal(shape) * 100).astype(dt)
        w.add_tensor(name, arr)
        tensors.append((name, list(reversed(shape)), arr.tobytes()))
    # Every block format GGUF knows, as raw bytes.
    for qtype in QUANT_TYPES:
        if qtype in (GGMLQuantizationType.F32, GGMLQuantizationType.F16):
            continue
        data, ne_rev = quant_tensor_bytes(rng, qtype, rows=3, blocks=2)
        name = f"quant.{qtype.name.lower()}"
        w.add_tensor(name, data, raw_dtype=qtype)
        tensors.append((name, list(reversed(ne_rev)), data.tobytes()))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return expected, tensors


@pytest.mark.parametrize("alignment", [0, 64, 1])
def test_gguf_writes_inferd_reads(tool, tmp_path, alignment):
    rng = np.random.default_rng(1234 + alignment)
    path = tmp_path / "ref.gguf"
    expected, tensors = write_reference_file(path, alignment, rng)
    ours = assert_same_reading(tool, path)
    # Both readers agree; check they also agree with what was written.
    got = [(e["key"], e["type"], e["value"]) for e in ours["kv"]]
    assert got == expected
    assert ours["alignment"] == (alignment or 32)
    assert ours["data_offset"] % ours["alignment"] == 0
    assert [t["name"] for t in ours["tensors"]] == [t[0] for t in tensors]
    for t, (name, ne, data) in zip(ours["tensors"], tensors):
        assert t["ne"] == ne, name
        assert t["nbytes"] == len(data), name
        assert t["crc32"] == zlib.crc32(data), name
        assert t["offset"] % ours["alignment"] == 0, name
    types = {t["type"] for t in ours["tensors"]}
    assert types >= {int(q) for q in QUANT_TYPES}


# ---- inferd writes, gguf reads ------------------------------------------------------

def _desc_scalar(rng, vtype):
    if vtype in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        x = float(rng.standard_normal() * 1e3)
        return float(np.float32(x)) if vtype == GGUFValueType.FLOAT32 else x
    if vtype == GGUFValueType.BOOL:
        return bool(rng.integers(0, 2))
    info = np.iinfo(ARRAY_NP[vtype])
    return _scalar(int(rng.integers(info.min, info.max, endpoint=True, dtype=ARRAY_NP[vtype])),
                   vtype)


def make_description(tmp_path, rng, alignment):
    kv = []
    for vtype in list(ARRAY_NP) + [GGUFValueType.BOOL]:
        kv.append({"key": f"s.{vtype.name.lower()}", "type": vtype.name,
                   "value": _desc_scalar(rng, vtype)})
        n = int(rng.integers(1, 50))
        kv.append({"key": f"a.{vtype.name.lower()}", "type": "ARRAY",
                   "value": {"elem_type": vtype.name,
                             "items": [_desc_scalar(rng, vtype) for _ in range(n)]}})
        kv.append({"key": f"a0.{vtype.name.lower()}", "type": "ARRAY",
                   "value": {"elem_type": vtype.name, "items": []}})
    kv += [
        {"key": "u64.max", "type": "UINT64", "value": str(2**64 - 1)},
        {"key": "f32.nan", "type": "FLOAT32", "value": "nan"},
        {"key": "f64.-inf", "type": "FLOAT64", "value": "-inf"},
        {"key": "str.empty", "type": "STRING", "value": ""},
        {"key": "str.unicode", "type": "STRING", "value": "\u00e9\u65e5\U0001F600"},
        {"key": "\u00fcnicode.k\u00e9y", "type": "STRING", "value": "v"},
        {"key": "a.string", "type": "ARRAY",
         "value": {"elem_type": "STRING", "items": ["", "a", "\u00e9", "xyz" * 100]}},
        {"key": "a0.string", "type": "ARRAY", "value": {"elem_type": "STRING", "items": []}},
        {"key": "a.nested", "type": "ARRAY", "value": {"elem_type": "ARRAY", "items": [
            {"elem_type": "UINT16", "items": [1, 2, 65535]},
            {"elem_type": "UINT16", "items": []},
            {"elem_type": "UINT16", "items": [7]}]}},
        {"key": "a.nested_str", "type": "ARRAY", "value": {"elem_type": "ARRAY", "items": [
            {"elem_type": "STRING", "items": ["p", "q"]}]}},
        {"key": "a.deep", "type": "ARRAY", "value": {"elem_type": "ARRAY", "items": [
            {"elem_type": "ARRAY", "items": [{"elem_type": "INT8", "items": [-1, 1]}]}]}},
    ]
    if alignment:
        kv.insert(0, {"key": "general.alignment", "type": "UINT32", "value": alignment})
    tensors = []
    for i, (qtype, (block, size)) in enumerate(QUANT_TYPES.items()):
        ndims = 1 + i % 4
        ne = [block * int(rng.integers(1, 3))] + [int(rng.integers(1, 4)) for _ in range(ndims - 1)]
        nbytes = ne[0] // block * size * int(np.prod(ne[1:], dtype=np.int64))
        data = rng.integers(0, 256, nbytes, dtype=np.uint8).tobytes()
        f = tmp_path / f"t{i}.bin"
        f.write_bytes(data)
        tensors.append({"name": f"blk.{i}.{qtype.name.lower()}", "type": int(qtype), "ne": ne,
                        "data_file": str(f), "_data": data})
    return {"alignment": alignment, "kv": kv, "tensors": tensors}


@pytest.mark.parametrize("alignment", [0, 128, 8])
def test_inferd_writes_gguf_reads(tool, tmp_path, alignment):
    rng = np.random.default_rng(99 + alignment)
    desc = make_description(tmp_path, rng, alignment)
    (tmp_path / "desc.json").write_text(json.dumps(
        {**desc, "tensors": [{k: v for k, v in t.items() if k != "_data"}
                             for t in desc["tensors"]]}))
    out = tmp_path / "ours.gguf"
    cp = subprocess.run([str(tool("gguf_write")), str(tmp_path / "desc.json"), str(out)],
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    ref = reference_reading(out)
    assert ref["version"] == 3
    assert ref["alignment"] == (alignment or 32)
    assert ref["kv"] == desc["kv"]
    assert len(ref["tensors"]) == len(desc["tensors"])
    for got, want in zip(ref["tensors"], desc["tensors"]):
        assert got["name"] == want["name"]
        assert got["type"] == want["type"]
        assert got["ne"] == want["ne"]
        assert got["nbytes"] == len(want["_data"])
        assert got["crc32"] == zlib.crc32(want["_data"]), want["name"]
    # and inferd reads its own file the way gguf does
    assert_same_reading(tool, out)


def test_gguf_write_refuses_bad_description(tool, tmp_path):
    desc = {"alignment": 0, "kv": [{"key": "k", "type": "UINT8", "value": 1},
                                   {"key": "k", "type": "UINT8", "value": 2}], "tensors": []}
    (tmp_path / "d.json").write_text(json.dumps(desc))
    out = tmp_path / "bad.gguf"
    cp = subprocess.run([str(tool("gguf_write")), str(tmp_path / "d.json"), str(out)],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 1
    assert "'k' set twice" in cp.stderr
    assert not out.exists()


# ---- real files ---------------------------------------------------------------------

def test_real_files_read_identically(tool, testdata):
    files = sorted(testdata.glob("models/*.gguf")) + sorted(testdata.glob("models/derived/*.gguf"))
    files += sorted(testdata.glob("vocab/*.gguf"))
    assert files, f"no GGUF files under {testdata}"
    for f in files:
        assert_same_reading(tool, f)


def test_pypi_models_read_identically(tool, smollm2, gemma3):
    for f in (smollm2, gemma3):
        ours = assert_same_reading(tool, f)
        assert len(ours["tensors"]) > 100


def test_v1_file_is_refused(tool, testdata):
    f = testdata / "models" / "legacy" / "tinyllamas-stories-260k-f32.gguf"
    if not f.exists():
        pytest.skip(f"{f} is absent")
    cp = subprocess.run([str(tool("gguf_dump")), str(f)], capture_output=True, text=True)
    assert cp.returncode == 1
    assert "version 1" in cp.stderr and "not supported" in cp.stderr
