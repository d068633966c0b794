"""llama.cpp's tokenizer test vectors (../shared/testdata/vocab/): every vocabulary
there (SentencePiece, byte-level BPE, WordPiece) must give exactly the expected ids,
tokenized without BOS and without parsing special tokens (the vectors' convention)."""
import json
import subprocess

SEPARATOR = "\n__ggml_vocab_test__\n"


def load_vectors(gguf):
    inputs = gguf.with_name(gguf.name + ".inp").read_text(encoding="utf-8").split(SEPARATOR)
    assert inputs[-1] == "", "the .inp file ends with a separator"
    inputs = inputs[:-1]
    lines = gguf.with_name(gguf.name + ".out").read_text(encoding="utf-8").split("\n")
    return inputs, [[int(x) for x in line.split()] for line in lines[:len(inputs)]]


def test_every_vocabulary(testdata, tool):
    files = sorted((testdata / "vocab").glob("*.gguf"))
    assert len(files) >= 10, f"expected the 10 vocabularies in {testdata / 'vocab'}"
    for gguf in files:
        inputs, expected = load_vectors(gguf)
        cp = subprocess.run([str(tool("tok_tool")), str(gguf)],
                            input="".join(json.dumps(s) + "\n" for s in inputs),
                            capture_output=True, text=True, timeout=300)
        assert cp.returncode == 0, f"{gguf.name}: {cp.stderr}"
        got = [json.loads(line) for line in cp.stdout.splitlines()]
        assert len(got) == len(inputs) == 46
        for text, want, have in zip(inputs, expected, got):
            assert have == want, f"{gguf.name}: {text!r}\n  expected {want}\n  got      {have}"
