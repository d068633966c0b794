"""Pre-tokenizer flavours without a vocabulary file here (Llama 3, Qwen2, GLM-4,
DeepSeek V3, SmolLM, GPT-2): inferd's PCRE2 splits against Hugging Face tokenizers
running each family's published pre-tokenizer (the patterns as their tokenizer.json
spell them, with Oniguruma's \\s), on the generated strings of the HF test."""
import json
import subprocess

import pytest
from tokenizers import Regex, pre_tokenizers

from test_tokenizer_hf import make_strings

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
         r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
DEEPSEEK_V3 = [r"\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
               r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"
               r"| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"]


def split(pattern):
    return pre_tokenizers.Split(Regex(pattern), behavior="isolated")


FLAVOURS = {
    "gpt-2": pre_tokenizers.Sequence([split(GPT2)]),
    "llama3": pre_tokenizers.Sequence([split(LLAMA3)]),
    "glm4": pre_tokenizers.Sequence([split(LLAMA3)]),
    "qwen2": pre_tokenizers.Sequence([split(QWEN2)]),
    "smollm": pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), split(GPT2)]),
    "deepseek-v3": pre_tokenizers.Sequence([split(p) for p in DEEPSEEK_V3]),
}


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_split_matches_hf(flavour, tool):
    strings = make_strings(5000, seed=7)
    want = [[w for w, _ in FLAVOURS[flavour].pre_tokenize_str(s)] for s in strings]
    cp = subprocess.run([str(tool("tok_tool")), "--split", flavour],
                        input="".join(json.dumps(s) + "\n" for s in strings),
                        capture_output=True, text=True, timeout=300)
    assert cp.returncode == 0, cp.stderr
    got = [json.loads(line) for line in cp.stdout.splitlines()]
    assert len(got) == len(strings)
    for s, w, g in zip(strings, want, got):
        assert g == w, f"{flavour}: {s!r}\n  hf     {w}\n  inferd {g}"


def test_unknown_flavour_is_refused(tool):
    cp = subprocess.run([str(tool("tok_tool")), "--split", "no-such"], input="", capture_output=True,
                        text=True, timeout=60)
    assert cp.returncode == 1 and "no-such" in cp.stderr
