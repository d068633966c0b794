"""`inferd tokenize`: text -> ids and pieces, --json, --decode, stdin, special
tokens, and the refusal of invalid UTF-8 (exit 1, the byte offset named)."""
import json
import subprocess

import pytest

from conftest import run_inferd


def tokenize(inferd_bin, model, *args, input=None, check=True):
    return run_inferd(inferd_bin, "tokenize", "-m", model, *args, input=input, check=check)


def test_help(inferd_bin):
    out = run_inferd(inferd_bin, "tokenize", "--help").stdout
    for flag in ("--no-bos", "--parse-special", "--json", "--decode"):
        assert flag in out


def test_usage_errors(inferd_bin, smollm2):
    assert run_inferd(inferd_bin, "tokenize", "hello", check=False).returncode == 2  # no -m
    assert tokenize(inferd_bin, smollm2, "--frob", "x", check=False).returncode == 2
    assert tokenize(inferd_bin, smollm2, "--decode", "1,x", check=False).returncode == 2


def test_json_matches_the_text_and_decodes_back(inferd_bin, smollm2):
    ascii_text = "Hello, world! x = 42;\n\tdone"
    j = json.loads(tokenize(inferd_bin, smollm2, "--json", ascii_text).stdout)
    assert len(j["ids"]) == len(j["pieces"]) > 5
    assert "".join(j["pieces"]) == ascii_text  # pieces are the text's own bytes
    # Korean and emoji are split into bytes by this vocabulary: pieces that are
    # not whole UTF-8 show as vocabulary text, and decoding puts them together.
    text = "Hello, world! 안녕하세요 🦙 x = 42;"
    j = json.loads(tokenize(inferd_bin, smollm2, "--json", text).stdout)
    assert "".join(j["pieces"]) != text
    ids = ",".join(map(str, j["ids"]))
    assert tokenize(inferd_bin, smollm2, "--decode", ids).stdout == text + "\n"
    d = json.loads(tokenize(inferd_bin, smollm2, "--decode", ids, "--json").stdout)
    assert d == {"text": text}


def test_plain_output_one_token_per_line(inferd_bin, smollm2):
    out = tokenize(inferd_bin, smollm2, "a\tb").stdout.splitlines()
    j = json.loads(tokenize(inferd_bin, smollm2, "--json", "a\tb").stdout)
    assert [int(line.split()[0]) for line in out] == j["ids"]
    assert "'\\t'" in "".join(out)  # control characters shown escaped


def test_stdin_is_the_same_as_an_argument(inferd_bin, smollm2):
    text = "line one\nline two\n\n  indented"
    a = tokenize(inferd_bin, smollm2, "--json", text).stdout
    b = tokenize(inferd_bin, smollm2, "--json", input=text).stdout
    assert a == b


def test_special_tokens_only_when_asked(inferd_bin, smollm2):
    raw = json.loads(tokenize(inferd_bin, smollm2, "--json", "<|im_end|>").stdout)["ids"]
    parsed = json.loads(tokenize(inferd_bin, smollm2, "--json", "--parse-special", "<|im_end|>").stdout)
    assert parsed["ids"] == [2] and parsed["pieces"] == ["<|im_end|>"]
    assert len(raw) > 1 and 2 not in raw
    # Decoding keeps control tokens' text unless asked to skip them.
    assert tokenize(inferd_bin, smollm2, "--decode", "2").stdout == "<|im_end|>\n"
    assert tokenize(inferd_bin, smollm2, "--decode", "2", "--skip-special").stdout == "\n"


def test_bos_follows_the_model(inferd_bin, gemma3):
    ids = json.loads(tokenize(inferd_bin, gemma3, "--json", "Hi").stdout)["ids"]
    no_bos = json.loads(tokenize(inferd_bin, gemma3, "--json", "--no-bos", "Hi").stdout)["ids"]
    assert ids == [2] + no_bos  # Gemma's file asks for <bos> (id 2)


def test_byte_tokens_shown_by_their_vocabulary_text(inferd_bin, testdata):
    """stories260K has 512 tokens: Korean falls back to bytes, which are not UTF-8
    alone, so --json shows them as <0xXX> rather than breaking the JSON."""
    model = testdata / "models" / "stories260K.gguf"
    j = json.loads(tokenize(inferd_bin, model, "--json", "--no-bos", "한").stdout)
    assert j["pieces"][-3:] == ["<0xED>", "<0x95>", "<0x9C>"]
    ids = ",".join(map(str, j["ids"]))
    assert tokenize(inferd_bin, model, "--decode", ids).stdout == "한\n"


@pytest.mark.parametrize("data,offset", [(b"ab\xffcd", 2), (b"\xed\xa0\x80", 0),
                                         (b"ok \xf0\x9f\x98", 3), (b"x" * 1000 + b"\xc0\xaf", 1000)])
def test_invalid_utf8_is_a_clear_error(inferd_bin, smollm2, data, offset):
    cp = subprocess.run([str(inferd_bin), "tokenize", "-m", str(smollm2)], input=data,
                        capture_output=True, timeout=60)
    assert cp.returncode == 1
    assert f"invalid UTF-8 at byte offset {offset}".encode() in cp.stderr
    assert cp.stdout == b""


def test_not_a_model(inferd_bin, tmp_path):
    p = tmp_path / "x.gguf"
    p.write_bytes(b"not a gguf file at all")
    cp = tokenize(inferd_bin, p, "hi", check=False)
    assert cp.returncode == 1 and str(p) in cp.stderr
