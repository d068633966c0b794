"""WordPiece (BERT) against Hugging Face tokenizers' BertNormalizer + BertPreTokenizer +
WordPiece on the 10,000 generated strings of the HF test, with bert-bge's vocabulary
(../shared/testdata/vocab/). llama.cpp's GGUF spells BERT's word-initial pieces with a
leading U+2581 and its "##" continuations bare; the reference gets the original spelling
back. The generator also mixes in accents, Cyrillic/Greek/Vietnamese case pairs and
the characters BERT's cleaner drops, which this normaliser must handle exactly."""
import json
import random
import subprocess

from test_tokenizer_hf import make_strings, read_metadata

EXTRA = ["Äpfel", "Cửa Việt", "ÉCOLE", "İstanbul", "ΣΟΦΊΑ", "naïve", "Ångström", "Ⅻ ﬁ ǅ",
         "a\u0000b", "x\ufffdy", "c\u200bd", "e\u00adf", "\u0301alone", "Ǆemal", "ß ẞ",
         "Страна", "日本語テキスト", "한국어", "\ue000private"]


def reference(gguf):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    tokens = read_metadata(gguf)["tokenizer.ggml.tokens"]
    vocab = {}
    for i, t in enumerate(tokens):
        key = t[1:] if t.startswith("\u2581") else (t if t.startswith("[") else "##" + t)
        vocab.setdefault(key, i)
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def test_matches_hf_wordpiece(testdata, tool):
    gguf = testdata / "vocab" / "ggml-vocab-bert-bge.gguf"
    tok = reference(str(gguf))
    rng = random.Random(3)
    strings = make_strings(10_000, seed=20261125)
    strings += [" ".join(rng.sample(EXTRA, 4)) for _ in range(500)]
    want = [e.ids for e in tok.encode_batch(strings, add_special_tokens=False)]
    cp = subprocess.run([str(tool("tok_tool")), str(gguf)],
                        input="".join(json.dumps(s) + "\n" for s in strings),
                        capture_output=True, text=True, timeout=600)
    assert cp.returncode == 0, cp.stderr
    got = [json.loads(line) for line in cp.stdout.splitlines()]
    bad = [(s, w, g) for s, w, g in zip(strings, want, got) if w != g]
    assert not bad, (f"{len(bad)} of {len(strings)} differ; first {bad[0][0]!r}\n"
                     f"  hf     {bad[0][1]} {[tok.id_to_token(i) for i in bad[0][1]]}\n"
                     f"  inferd {bad[0][2]}")


def test_cls_sep_and_decode(testdata, tool):
    gguf = testdata / "vocab" / "ggml-vocab-bert-bge.gguf"
    cp = subprocess.run([str(tool("tok_tool")), str(gguf), "--add-special"],
                        input='"Hello world"\n', capture_output=True, text=True, timeout=60)
    ids = json.loads(cp.stdout)
    assert ids[0] == 101 and ids[-1] == 102 and len(ids) == 4  # [CLS] hello world [SEP]
    cp = subprocess.run([str(tool("tok_tool")), str(gguf), "--skip-special", "--strip-space"],
                        input=json.dumps(ids) + "\n", capture_output=True, text=True, timeout=60)
    assert json.loads(cp.stdout)["text"] == "hello world"
