"""llama.cpp's tokenizer test vectors (../shared/testdata/vocab/): every vocabulary
there must give exactly the expected ids, tokenized without BOS and without parsing
special tokens (the vectors' convention). The one WordPiece (BERT) vocabulary is
skipped by name, with its reason, since inferd has no WordPiece tokenizer."""
import json
import subprocess

import pytest

NOT_IMPLEMENTED = {"ggml-vocab-bert-bge.gguf": "WordPiece (tokenizer.ggml.model = bert) is not "
                                               "implemented in inferd"}
SEPARATOR = "\n__ggml_vocab_test__\n"


def vocab_files(testdata):
    files = sorted((testdata / "vocab").glob("*.gguf"))
    assert files, f"no vocabularies in {testdata / 'vocab'}"
    return files


def load_vectors(gguf):
    inputs = gguf.with_name(gguf.name + ".inp").read_text(encoding="utf-8").split(SEPARATOR)
    assert inputs[-1] == "", "the .inp file ends with a separator"
    inputs = inputs[:-1]
    lines = gguf.with_name(gguf.name + ".out").read_text(encoding="utf-8").split("\n")
    return inputs, [[int(x) for x in line.split()] for line in lines[:len(inputs)]]


def test_every_vocabulary(testdata, tool):
    checked = 0
    for gguf in vocab_files(testdata):
        if gguf.name in NOT_IMPLEMENTED:
            print(f"SKIP {gguf.name}: {NOT_IMPLEMENTED[gguf.name]}")
            continue
        inputs, expected = load_vectors(gguf)
        cp = subprocess.run([str(tool("tok_tool")), str(gguf)],
                            input="".join(json.dumps(s) + "\n" for s in inputs),
                            capture_output=True, text=True, timeout=300)
        assert cp.returncode == 0, f"{gguf.name}: {cp.stderr}"
        got = [json.loads(line) for line in cp.stdout.splitlines()]
        for text, want, have in zip(inputs, expected, got):
            assert have == want, f"{gguf.name}: {text!r}\n  expected {want}\n  got      {have}"
        assert len(got) == len(inputs) == 46
        checked += 1
    assert checked >= 9


@pytest.mark.parametrize("name", sorted(NOT_IMPLEMENTED))
def test_unimplemented_vocabulary_is_refused_clearly(testdata, tool, name):
    """Skipped above, so it must at least fail loudly, never tokenize wrongly."""
    gguf = testdata / "vocab" / name
    if not gguf.exists():
        pytest.skip(f"{gguf} is absent")
    cp = subprocess.run([str(tool("tok_tool")), str(gguf)], input='"hello"\n',
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 1
    assert "bert" in cp.stderr and "not supported" in cp.stderr
    pytest.skip(f"{name}: {NOT_IMPLEMENTED[name]}")
