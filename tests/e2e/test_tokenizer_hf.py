"""The outside oracles of the tokenizer tests, and the strings they are fed.

`reference(path)` builds a Hugging Face `tokenizers.Tokenizer` for a GGUF file with
transformers' own GGUF converter (`convert_gguf_tokenizer`, what
`AutoTokenizer.from_pretrained(dir, gguf_file=...)` runs). `from_pretrained` itself
cannot run here: transformers' GGUF *reader* imports torch, which the test venv does
not have, so the metadata is read by `read_metadata` below (a plain GGUF parser: the
`gguf` package's reader needs 20 s for Gemma's 262k tokens) and handed to the
converter exactly as its reader would.

The converter is not the model's published tokenizer in two places; `reference`
corrects both, and the tests check that the stock converter differs from inferd
on nothing else (see KNOWN_STOCK_DIFFERENCES):
  - SentencePiece files that add a space prefix (stories260K, Llama 2): the converter
    uses Metaspace(prepend_scheme="first"), which adds no U+2581 to text that already
    starts with a space and none after a special token. SentencePiece, llama.cpp and
    the Llama tokenizer.json prepend always (Prepend + Replace normalizers, which is
    what transformers itself builds for Phi-3). inferd follows SentencePiece.
  - `smollm` (SmolLM2): the published tokenizer.json splits digits one by one
    (Digits(individual_digits=True)) before the GPT-2 regex; the converter skips
    that step, which changes "  1" and " 12" style text. inferd follows the model.
"""
import os
import random
import struct

os.environ.setdefault("HF_HUB_OFFLINE", "1")

_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
           11: "<q", 12: "<d"}


def read_metadata(path):
    """GGUF v2/v3 metadata as a dict (arrays as lists, strings decoded as UTF-8)."""
    with open(path, "rb") as f:
        data = f.read(64 << 20)  # metadata sits at the front; 64 MiB covers any vocabulary
    if data[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    pos = 8
    _n_tensors, n_kv = struct.unpack_from("<QQ", data, pos)
    pos += 16

    def string():
        nonlocal pos
        (n,) = struct.unpack_from("<Q", data, pos)
        s = data[pos + 8:pos + 8 + n]
        pos += 8 + n
        return s.decode("utf-8", errors="surrogateescape")

    def value(t):
        nonlocal pos
        if t == 8:
            return string()
        if t == 9:
            (et, n) = struct.unpack_from("<IQ", data, pos)
            pos += 12
            if et in _SCALAR:
                fmt = _SCALAR[et]
                size = struct.calcsize(fmt)
                out = [x[0] for x in struct.iter_unpack(fmt, data[pos:pos + size * n])]
                pos += size * n
                return out
            return [value(et) for _ in range(n)]
        fmt = _SCALAR[t]
        (v,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v

    meta = {}
    for _ in range(n_kv):
        key = string()
        (t,) = struct.unpack_from("<I", data, pos)
        pos += 4
        meta[key] = value(t)
    return meta


def reference(path, stock=False):
    """(tokenizers.Tokenizer, metadata) for a GGUF file; stock=True skips the corrections."""
    from tokenizers import normalizers, pre_tokenizers
    from transformers.integrations.gguf.gguf_tokenizer_mapping import (
        GGUF_TOKENIZER_MAPPING, convert_gguf_tokenizer)

    meta = read_metadata(path)
    tdict = {name: meta[f"tokenizer.{key}"] for key, name in GGUF_TOKENIZER_MAPPING["tokenizer"].items()
             if f"tokenizer.{key}" in meta}
    arch = meta.get("general.architecture", "")
    tok, _ = convert_gguf_tokenizer(arch, tdict)
    if stock:
        return tok, meta
    model = meta.get("tokenizer.ggml.model")
    if model == "llama" and not arch.startswith("gemma") and meta.get(
            "tokenizer.ggml.add_space_prefix", True):
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"),
                                               normalizers.Replace(" ", "\u2581")])
        tok.pre_tokenizer = None
    if meta.get("tokenizer.ggml.pre") == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    return tok, meta


def _starts_with_space_or_has_special(s):
    return s.startswith(" ") or "<" in s or "[" in s


def _has_digit(s):
    return any(c.isnumeric() for c in s)  # \p{N}, as the Digits step sees it


# What the stock converter may disagree with inferd on, per model (see above).
KNOWN_STOCK_DIFFERENCES = {
    "stories260K": _starts_with_space_or_has_special,
    "SmolLM2": _has_digit,
    "gemma": lambda s: False,
}

# ---- strings -------------------------------------------------------------------

_WORDS = ("the quick brown fox jumps over lazy dog once upon a time there was little girl named "
          "Lily she loved to play outside in park with her friends They're I'm we'll you've "
          "don't CAN'T it's He'D naïve café résumé coöperate façade Straße ÆSIR œuvre").split()

_CODE = [
    "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}",
    "if (a && b || !c) { return -1; }", "#include <stdio.h>\nint main(void) { puts(\"hi\"); }",
    "const x = () => { console.log(`v=${v}`); };", "SELECT * FROM t WHERE id = 42;",
    "<div class=\"a\">text</div>", "x += y; y <<= 2; z = x ^ ~y;", "fn main() -> Result<(), E> {}",
    "    indented\n        more\n\t\ttabs", "# comment\n## heading\n- item\n* bullet",
    "{\"key\": [1, 2.5, null, true], \"k2\": \"v\"}", "path/to/file_name.py:123:45",
    "https://example.com/a?b=c&d=e#f", "user@example.org", "$HOME/.config && echo $?",
]

_SPECIAL_LOOKALIKES = [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "<unk>", "<pad>", "<bos>",
    "<eos>", "<start_of_turn>", "<end_of_turn>", "<|im_", "im_end|>", "<|im_end", "< s>", "<s >",
    "<0x41>", "<0xE4>", "[multimodal]", "<|eot_id|>", "<start_of_image>", "<mask>", "<unused0>",
    "<h1>", "</table>", "<<s>>", "<|<|im_end|>|>", "<repo_name>", "<filename>",
]


def _rand_range(rng, lo, hi, k):
    return "".join(chr(rng.randint(lo, hi)) for _ in range(k))


def _fragment(rng):
    kind = rng.randrange(16)
    if kind == 0:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 12)))
    if kind == 1:
        return rng.choice(_CODE)
    if kind == 2:  # whitespace runs
        return "".join(rng.choice([" ", "  ", "\t", "\n", "\r\n", "\n\n", " " * rng.randint(3, 40),
                                   "\t" * rng.randint(2, 9), "\n" * rng.randint(2, 12), "\u3000",
                                   "\u00a0", "\r", "\x0b", "\x0c", "\u0085", "\u2028"])
                       for _ in range(rng.randint(1, 6)))
    if kind == 3:  # numbers
        return rng.choice([str(rng.randint(0, 10 ** rng.randint(1, 15))),
                           f"{rng.random() * 1000:.{rng.randint(0, 6)}f}",
                           f"{rng.randint(1, 999)},{rng.randint(0, 999):03d},{rng.randint(0, 999):03d}",
                           f"+1 ({rng.randint(100, 999)}) 555-{rng.randint(1000, 9999)}",
                           f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/20{rng.randint(10, 30)}",
                           "½ ¾ ² ³ ٣ ४ ⅷ", "0x" + format(rng.getrandbits(32), "x"), "1e-9", "3.14159"])
    if kind == 4:  # Korean syllables and jamo
        return _rand_range(rng, 0xAC00, 0xD7A3, rng.randint(1, 12)) + rng.choice(["", " ", "요.", "다!"])
    if kind == 5:  # Chinese
        return _rand_range(rng, 0x4E00, 0x9FA5, rng.randint(1, 12)) + rng.choice(["", "。", "，", "？"])
    if kind == 6:  # Japanese
        return (_rand_range(rng, 0x3041, 0x3096, rng.randint(1, 6)) +
                _rand_range(rng, 0x30A1, 0x30FA, rng.randint(0, 6)) +
                _rand_range(rng, 0x4E00, 0x9FA5, rng.randint(0, 3)) + rng.choice(["", "、", "です。"]))
    if kind == 7:  # emoji, with modifiers, ZWJ sequences and flags
        e = [chr(rng.randint(0x1F600, 0x1F64F)), chr(rng.randint(0x1F300, 0x1F5FF)),
             "\U0001F44D\U0001F3FD", "\U0001F468\u200D\U0001F469\u200D\U0001F467", "\U0001F1F0\U0001F1F7",
             "\u2764\ufe0f", "\U0001F999", "\u263a"]
        return "".join(rng.choice(e) for _ in range(rng.randint(1, 5)))
    if kind == 8:  # other scripts
        return rng.choice([_rand_range(rng, 0x0410, 0x044F, rng.randint(1, 10)),
                           _rand_range(rng, 0x03B1, 0x03C9, rng.randint(1, 10)),
                           _rand_range(rng, 0x0627, 0x064A, rng.randint(1, 10)),
                           _rand_range(rng, 0x05D0, 0x05EA, rng.randint(1, 10)),
                           _rand_range(rng, 0x0915, 0x0939, rng.randint(1, 6)) + "\u093e\u0902",
                           _rand_range(rng, 0x0E01, 0x0E2E, rng.randint(1, 10)),
                           "e\u0301 a\u0308 n\u0303", "ﬁ ﬂ Ａｂｃ １２３ ℃ K Ω"])
    if kind == 9:
        return rng.choice(_SPECIAL_LOOKALIKES)
    if kind == 10:  # contractions and quotes
        return rng.choice(["don't", "DON'T", "it's", "'s", "'ll", "'VE", "I'M", "’s", "o'clock",
                           "\"quoted\"", "'single'", "rock'n'roll", "y'all'd've"])
    if kind == 11:  # punctuation runs
        return "".join(rng.choice("!?.,;:-_=+*/\\|@#$%^&()[]{}<>~`'\"") for _ in range(rng.randint(1, 8)))
    if kind == 12:  # random printable ASCII
        return "".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(1, 20)))
    if kind == 13:  # random BMP letters/symbols from old, stable blocks
        return "".join(chr(rng.choice([rng.randint(0xA0, 0x24F), rng.randint(0x2000, 0x22FF),
                                       rng.randint(0x2500, 0x27BF)])) for _ in range(rng.randint(1, 8)))
    if kind == 14:  # long word without spaces
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(20, 200)))
    return rng.choice(["Hello", "world", " Hello", "  Hello", "Hello World", "HELLO", "hello\n"])


def make_strings(n, seed):
    """n strings mixing every category, deterministic for a seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [_fragment(rng) for _ in range(rng.randint(1, 6))]
        seps = [rng.choice(["", " ", " ", "\n", "  ", "\t"]) for _ in parts]
        s = "".join(p + q for p, q in zip(parts, seps))
        if rng.random() < 0.3:
            s = s.strip(" ")
        out.append(s)
    return out


# ---- the tests ---------------------------------------------------------------------------

import json  # noqa: E402
import subprocess  # noqa: E402

import pytest  # noqa: E402

N_STRINGS = 10_000


def run_tool(tool_path, model, lines, *flags):
    """Feeds JSON lines through tok_tool; returns the parsed outputs."""
    cp = subprocess.run([str(tool_path), str(model), *flags],
                        input="".join(json.dumps(x) + "\n" for x in lines),
                        capture_output=True, text=True, timeout=600)
    assert cp.returncode == 0, cp.stderr
    out = [json.loads(line) for line in cp.stdout.splitlines()]
    assert len(out) == len(lines)
    return out


def first_mismatch(strings, want, got, tok):
    for i, (w, g) in enumerate(zip(want, got)):
        if w != g:
            k = next((j for j in range(min(len(w), len(g))) if w[j] != g[j]), min(len(w), len(g)))
            lo = max(0, k - 3)
            return (f"{sum(a != b for a, b in zip(want, got))} of {len(strings)} strings differ; "
                    f"first is #{i}: {strings[i]!r}\n"
                    f"  at token {k}: reference {w[lo:k + 4]} {[tok.id_to_token(x) for x in w[lo:k + 4]]}\n"
                    f"                 inferd    {g[lo:k + 4] if isinstance(g, list) else g} "
                    f"{[tok.id_to_token(x) for x in g[lo:k + 4]] if isinstance(g, list) else ''}")
    return None


def _models(models_dir, testdata_dir):
    return {
        "SmolLM2": models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf",
        "gemma": models_dir / "gemma-3-270m-q4_k_m.gguf",
        "stories260K": testdata_dir / "models" / "stories260K.gguf",
    }


@pytest.fixture(scope="module", params=["SmolLM2", "gemma", "stories260K"])
def vocab(request, models_dir):
    from conftest import ROOT
    testdata_dir = pathlib.Path(os.environ.get("INFERD_TESTDATA", ROOT.parent / "shared" / "testdata"))
    path = _models(models_dir, testdata_dir)[request.param]
    if not path.exists():
        pytest.skip(f"{path} is absent (scripts/setup.sh installs the models; "
                    "stories260K comes from ../shared/testdata)")
    tok, meta = reference(str(path))
    return request.param, path, tok, meta


import pathlib  # noqa: E402


@pytest.fixture(scope="module")
def strings():
    return make_strings(N_STRINGS, seed=20261125)


@pytest.mark.parametrize("parse_special", [False, True], ids=["raw", "parse_special"])
def test_matches_hf_tokenizers(vocab, strings, tool, parse_special):
    name, path, tok, _ = vocab
    tok.encode_special_tokens = not parse_special
    want = [e.ids for e in tok.encode_batch(strings, add_special_tokens=False)]
    got = run_tool(tool("tok_tool"), path, strings, *(["--parse-special"] if parse_special else []))
    msg = first_mismatch(strings, want, got, tok)
    assert msg is None, f"{name}: {msg}"


def test_stock_converter_differs_only_where_documented(vocab, strings, tool):
    """The corrections in reference() are the only gaps to transformers' converter."""
    name, path, _, _ = vocab
    stock, _ = reference(str(path), stock=True)
    stock.encode_special_tokens = True
    want = [e.ids for e in stock.encode_batch(strings, add_special_tokens=False)]
    got = run_tool(tool("tok_tool"), path, strings)
    allowed = KNOWN_STOCK_DIFFERENCES[name]
    unexplained = [s for s, w, g in zip(strings, want, got) if w != g and not allowed(s)]
    assert not unexplained, f"{name}: {len(unexplained)} unexplained, first {unexplained[0]!r}"


def test_bos_follows_the_file(vocab, strings, tool):
    """add_special adds BOS exactly when tokenizer.ggml.add_bos_token says (llama.cpp's
    convention, which transformers follows too: SPM files default to BOS)."""
    name, path, _, meta = vocab
    sample = strings[:200]
    plain = run_tool(tool("tok_tool"), path, sample)
    special = run_tool(tool("tok_tool"), path, sample, "--add-special")
    model = meta["tokenizer.ggml.model"]
    add_bos = meta.get("tokenizer.ggml.add_bos_token", model == "llama")
    add_eos = meta.get("tokenizer.ggml.add_eos_token", False)
    bos = meta.get("tokenizer.ggml.bos_token_id")
    eos = meta.get("tokenizer.ggml.eos_token_id")
    for p, s in zip(plain, special):
        assert s == ([bos] if add_bos else []) + p + ([eos] if add_eos else []), name


def test_decode_round_trips_and_streams_whole_characters(vocab, strings, tool):
    name, path, tok, _ = vocab
    sample = strings[:3000]
    ids = run_tool(tool("tok_tool"), path, sample)
    dec = run_tool(tool("tok_tool"), path, ids, "--strip-space")
    spm = tok.model.__class__.__name__ == "BPE" and tok.model.byte_fallback
    for s, i, d in zip(sample, ids, dec):
        # SentencePiece spells a space U+2581, so a U+2581 in the text comes back a space.
        assert d["text"] == (s.replace("\u2581", " ") if spm else s), f"{name}: {s!r} -> {i}"
        assert d["text"] == tok.decode(i, skip_special_tokens=False), f"{name}: {s!r} -> {i}"
        assert "".join(d["chunks"]) == d["text"]
        # A character split over byte tokens never shows up as a replacement mid-stream.
        assert all("\ufffd" not in c for c in d["chunks"]), (s, d["chunks"])
