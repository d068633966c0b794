"""Chat templates: inferd's renderer against Python jinja2, byte for byte.

The oracle is transformers' own render_jinja_template (the function behind
apply_chat_template): its sandboxed jinja2 environment, its tojson, its
reasoning aliases. Both sides get the same conversation and the same clock
(strftime_now is pinned to NOW). Where jinja2 raises (a template refusing a
role order, or a type error on unexpected input), inferd must fail too.

Templates: every file in ../shared/testdata/templates/ and the one in the
SmolLM2 GGUF. The Gemma 3 GGUF of this project carries no chat template (that
test says so rather than passing silently).
"""
import datetime as dt
import functools
import json
import os
import pathlib
import subprocess

import pytest

# ---- conversations ----------------------------------------------------------
# Each entry is the keyword arguments of one apply_chat_template call. They cover
# what real templates branch on: system or not, multi-turn, generation prompt on
# and off, tool definitions, tool calls (arguments as objects and as JSON strings,
# several per turn), tool results, reasoning content, thinking flags, multimodal
# content lists, unusual text, and conversations a template should refuse.

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.\n  Returns degrees.  ",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"],
                         "description": "Temperature unit"},
                "days": {"type": "integer", "description": "Forecast days", "default": 1},
            },
            "required": ["city"],
        },
    },
}

SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web <fast> & 'cheap'.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for"},
                "filters": {"type": "array", "items": {"type": "string"},
                            "description": "Optional filters"},
                "options": {"type": "object", "description": "Extra options",
                            "additionalProperties": {"type": "number"}},
                "limit": {"type": "integer", "description": "Maximum results", "default": 10},
            },
            "required": ["query"],
        },
    },
}

# A nullable union type: some templates (Hermes 3) recurse forever on "null" and
# jinja2 fails; inferd must fail as well rather than print something.
NULLABLE_TOOL = {
    "type": "function",
    "function": {
        "name": "rank",
        "description": "Rank results.",
        "parameters": {
            "type": "object",
            "properties": {"score": {"type": ["number", "null"], "description": "Minimum score"},
                           "mode": {"oneOf": [{"type": "string"}, {"type": "integer"}]}},
            "required": [],
        },
    },
}

SYS = "You are a terse assistant. Answer in English."


def _tool_call(name, args, call_id="call12345"):
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


CONVERSATIONS = {
    "user_only_gen": dict(
        messages=[{"role": "user", "content": "Hello!"}],
        add_generation_prompt=True),
    "user_only_nogen": dict(
        messages=[{"role": "user", "content": "Hello!"}],
        add_generation_prompt=False),
    "system_multiturn_gen": dict(
        messages=[{"role": "system", "content": SYS},
                  {"role": "user", "content": "What is 2+2?"},
                  {"role": "assistant", "content": "4."},
                  {"role": "user", "content": "And 3+3?"}],
        add_generation_prompt=True),
    "system_multiturn_nogen": dict(
        messages=[{"role": "system", "content": SYS},
                  {"role": "user", "content": "What is 2+2?"},
                  {"role": "assistant", "content": "4."}],
        add_generation_prompt=False),
    "multiturn_no_system": dict(
        messages=[{"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello! How can I help?"},
                  {"role": "user", "content": "Tell me a joke."},
                  {"role": "assistant", "content": "Why did the chicken cross the road?"},
                  {"role": "user", "content": "Why?"}],
        add_generation_prompt=True),
    "unicode_and_quotes": dict(
        messages=[{"role": "system", "content": "  Système: réponds « poliment ».  \n"},
                  {"role": "user", "content": "안녕하세요 👋 \"quoted\" and 'single' <b>bold</b> & {{ not jinja }}\n\n"},
                  {"role": "assistant", "content": "\n 你好！\ttab\\backslash "},
                  {"role": "user", "content": "{% raw %} %} {# #} \u2028 end"}],
        add_generation_prompt=True),
    "empty_content": dict(
        messages=[{"role": "user", "content": ""},
                  {"role": "assistant", "content": ""},
                  {"role": "user", "content": " "}],
        add_generation_prompt=True),
    "tools_defined_gen": dict(
        messages=[{"role": "system", "content": SYS},
                  {"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL, SEARCH_TOOL],
        add_generation_prompt=True),
    "tools_nullable_param": dict(
        messages=[{"role": "user", "content": "Rank them."}],
        tools=[NULLABLE_TOOL],
        add_generation_prompt=True),
    "tools_multiturn_nogen": dict(
        messages=[{"role": "system", "content": SYS},
                  {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello."},
                  {"role": "user", "content": "Weather in Rome?"},
                  {"role": "assistant", "content": "Sunny."}],
        tools=[WEATHER_TOOL, SEARCH_TOOL],
        add_generation_prompt=False),
    "tools_no_system": dict(
        messages=[{"role": "user", "content": "Search for cats."}],
        tools=[SEARCH_TOOL],
        add_generation_prompt=True),
    "tool_call_flow": dict(
        messages=[{"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": "",
                   "tool_calls": [_tool_call("get_weather", {"city": "Paris", "unit": "celsius"}, "abc123XYZ")]},
                  {"role": "tool", "tool_call_id": "abc123XYZ", "name": "get_weather",
                   "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
                  {"role": "assistant", "content": "It is 21.5 °C and clear."},
                  {"role": "user", "content": "Thanks!"}],
        tools=[WEATHER_TOOL],
        add_generation_prompt=True),
    "tool_call_pending": dict(
        messages=[{"role": "system", "content": SYS},
                  {"role": "user", "content": "Weather in Paris and Oslo?"},
                  {"role": "assistant", "content": None,
                   "tool_calls": [_tool_call("get_weather", {"city": "Paris"}, "abc123XYZ")]},
                  {"role": "tool", "tool_call_id": "abc123XYZ", "content": "sunny, 20"}],
        tools=[WEATHER_TOOL],
        add_generation_prompt=True),
    "parallel_tool_calls": dict(
        messages=[{"role": "user", "content": "Weather in Paris and Oslo?"},
                  {"role": "assistant", "content": "Let me check both.",
                   "tool_calls": [_tool_call("get_weather", {"city": "Paris", "days": 2}, "abc123XYZ"),
                                  _tool_call("get_weather", {"city": "Oslo", "flags": [1, 2.5, True, None]},
                                             "def456UVW")]},
                  {"role": "tool", "tool_call_id": "abc123XYZ", "content": "sunny"},
                  {"role": "tool", "tool_call_id": "def456UVW", "content": "rain"}],
        tools=[WEATHER_TOOL],
        add_generation_prompt=True),
    "tool_call_string_args": dict(
        messages=[{"role": "user", "content": "Search cats"},
                  {"role": "assistant", "content": "",
                   "tool_calls": [_tool_call("search", "{\"query\": \"cats\"}", "xyz789ABC")]},
                  {"role": "tool", "tool_call_id": "xyz789ABC", "content": "many cats"},
                  {"role": "assistant", "content": "Found many cats."}],
        tools=[SEARCH_TOOL],
        add_generation_prompt=False),
    "reasoning_history": dict(
        messages=[{"role": "user", "content": "Is 17 prime?"},
                  {"role": "assistant", "content": "Yes, 17 is prime.",
                   "reasoning_content": "Check divisors 2, 3: none divide 17."},
                  {"role": "user", "content": "And 21?"}],
        add_generation_prompt=True),
    "reasoning_last_turn": dict(
        messages=[{"role": "user", "content": "Is 17 prime?"},
                  {"role": "assistant", "content": "Yes.",
                   "reasoning_content": "\nTry 2, 3, 4.\n"}],
        add_generation_prompt=False),
    "think_tags_in_content": dict(
        messages=[{"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "<think>\nThe user greets.\n</think>\n\nHello!"},
                  {"role": "user", "content": "Bye"}],
        add_generation_prompt=True),
    "thinking_off": dict(
        messages=[{"role": "system", "content": SYS},
                  {"role": "user", "content": "Quick answer: capital of France?"}],
        add_generation_prompt=True, enable_thinking=False),
    "thinking_on": dict(
        messages=[{"role": "user", "content": "Prove it. /think"}],
        add_generation_prompt=True, enable_thinking=True),
    "reasoning_effort_high": dict(
        messages=[{"role": "developer", "content": "Be precise."},
                  {"role": "user", "content": "Compute 12*12."},
                  {"role": "assistant", "content": "144", "thinking": "12*12 = 144"},
                  {"role": "user", "content": "Now 13*13."}],
        add_generation_prompt=True, reasoning_effort="high", model_identity="You are a test model."),
    "multimodal_text_parts": dict(
        messages=[{"role": "user", "content": [{"type": "text", "text": "Describe"},
                                               {"type": "image"},
                                               {"type": "text", "text": " this."}]},
                  {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]}],
        add_generation_prompt=False),
    "documents_rag": dict(
        messages=[{"role": "user", "content": "What does the doc say?"}],
        documents=[{"doc_id": 1, "title": "Doc one", "text": "The sky is blue."},
                   {"doc_id": "two", "title": "Doc two", "text": "Grass is green."}],
        add_generation_prompt=True),
    "roles_not_alternating": dict(
        messages=[{"role": "user", "content": "One"},
                  {"role": "user", "content": "Two"}],
        add_generation_prompt=True),
    "system_first_then_assistant": dict(
        messages=[{"role": "system", "content": SYS},
                  {"role": "assistant", "content": "I start."},
                  {"role": "user", "content": "Ok."}],
        add_generation_prompt=True),
    "llama_tools_in_system": dict(
        messages=[{"role": "system", "content": SYS},
                  {"role": "user", "content": "Weather?"}],
        tools=[WEATHER_TOOL],
        add_generation_prompt=True, tools_in_user_message=False, date_string="01 Jan 2025"),
    "builtin_tools": dict(
        messages=[{"role": "user", "content": "Search the news."}],
        add_generation_prompt=True, builtin_tools=["browser", "python"]),
    "no_messages": dict(
        messages=[],
        add_generation_prompt=True),
}

# Special tokens as the tokenizers of these families spell them.
SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}


ctu = pytest.importorskip("transformers.utils.chat_template_utils")

NOW = 1767225600 + 3600 * 13  # 2026-01-01 13:00 UTC: a fixed clock for strftime_now

TEMPLATE_FILES = [
    "GLM-4.6.jinja",
    "HuggingFaceTB-SmolLM3-3B.jinja",
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja",
    "Qwen-Qwen2.5-7B-Instruct.jinja",
    "Qwen-Qwen3-0.6B.jinja",
    "Qwen3-Coder.jinja",
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
    "deepseek-ai-DeepSeek-V3.1.jinja",
    "google-gemma-2-2b-it.jinja",
    "ibm-granite-granite-3.3-2B-Instruct.jinja",
    "meta-llama-Llama-3.1-8B-Instruct.jinja",
    "meta-llama-Llama-3.2-3B-Instruct.jinja",
    "microsoft-Phi-3.5-mini-instruct.jinja",
    "mistralai-Mistral-Nemo-Instruct-2407.jinja",
    "moonshotai-Kimi-K2.jinja",
    "openai-gpt-oss-120b.jinja",
]


class _FixedDatetime(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return dt.datetime.fromtimestamp(NOW, tz)


def render_py(src, conv):
    """(ok, text or error message) from transformers' renderer."""
    conv = dict(conv)
    messages = conv.pop("messages")
    tools = conv.pop("tools", None)
    documents = conv.pop("documents", None)
    agp = conv.pop("add_generation_prompt", False)
    saved = ctu.datetime
    ctu.datetime = _FixedDatetime
    try:
        out, _ = ctu.render_jinja_template(conversations=[messages], tools=tools, documents=documents,
                                           chat_template=src, add_generation_prompt=agp,
                                           **SPECIAL_TOKENS, **conv)
        return True, out[0]
    except Exception as e:  # jinja2 errors of every kind: the C side must fail as well
        return False, f"{type(e).__name__}: {e}"
    finally:
        ctu.datetime = saved


def render_c_batch(tool, workdir, src, convs):
    """[(status, bytes)] from one run of tests/tools/tmpl_render --chat --batch:
    status 0 rendered (bytes: the text), 1 render error, 2 compile error (bytes:
    the message)."""
    workdir.mkdir(parents=True, exist_ok=True)
    tfile, cfile = workdir / "template.jinja", workdir / "contexts.json"
    tfile.write_text(src, encoding="utf-8")
    cfile.write_text(json.dumps([{**c, **SPECIAL_TOKENS} for c in convs], ensure_ascii=False), encoding="utf-8")
    cp = subprocess.run([str(tool("tmpl_render")), "--chat", "--batch", "--now", str(NOW), str(tfile), str(cfile)],
                        capture_output=True, timeout=300, env={**os.environ, "TZ": os.environ.get("TZ", "UTC")})
    assert cp.returncode == 0, cp.stderr.decode("utf-8", "replace")
    out, pos, results = cp.stdout, 0, []
    while pos < len(out):
        nl = out.index(b"\n", pos)
        status, n = map(int, out[pos:nl].split())
        results.append((status, out[nl + 1:nl + 1 + n]))
        pos = nl + 1 + n + 1
    assert len(results) == len(convs)
    return results


def assert_same(src, conv, c_result, what):
    ok, expected = render_py(src, conv)
    status, got = c_result
    if ok:
        assert status == 0, f"{what}: jinja2 renders but inferd fails: {got.decode('utf-8', 'replace')}"
        exp = expected.encode("utf-8")
        if got != exp:
            # Show where they part, not two walls of text.
            i = next((k for k in range(min(len(got), len(exp))) if got[k] != exp[k]), min(len(got), len(exp)))
            raise AssertionError(f"{what}: output differs at byte {i}:\n"
                                 f"  jinja2: {exp[max(0, i - 60):i + 60]!r}\n"
                                 f"  inferd: {got[max(0, i - 60):i + 60]!r}")
    else:
        assert status == 1, f"{what}: jinja2 fails ({expected}) but inferd gives status {status}: {got[:200]!r}"


# One tool run per template renders every named conversation; the tests read it.
_BATCH = {}


def c_result(tool, workdir, key, src, conv_name):
    if key not in _BATCH:
        names = sorted(CONVERSATIONS)
        _BATCH[key] = dict(zip(names, render_c_batch(tool, workdir / key.replace("/", "_"), src,
                                                     [CONVERSATIONS[n] for n in names])))
    return _BATCH[key][conv_name]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("tmpl_render")


@pytest.fixture(scope="module", autouse=True)
def _utc():
    # Both renderers read local time; pin the zone for the Python side too.
    old = os.environ.get("TZ")
    os.environ["TZ"] = old or "UTC"
    import time
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.mark.parametrize("conv_name", sorted(CONVERSATIONS))
@pytest.mark.parametrize("template_name", TEMPLATE_FILES)
def test_testdata_template_matches_jinja2(tool, workdir, testdata, template_name, conv_name):
    path = testdata / "templates" / template_name
    assert path.exists(), f"{path} missing from the test data"
    src = path.read_text(encoding="utf-8")
    assert_same(src, CONVERSATIONS[conv_name], c_result(tool, workdir, template_name, src, conv_name),
                f"{template_name} / {conv_name}")


# ---- seeded random conversations -------------------------------------------------

TEXTS = ["Hello", "", " padded  ", "line1\nline2\n", "\n\nleading newlines", "tabs\tand\\backslash",
         "quotes \" and ' both", "<think>\nreasoning\n</think>\n\nanswer", "ends with </think>", "{{ x }} {% y %}",
         "한국어 텍스트", "中文", "emoji 🤖🎉", "<tool_response>r</tool_response>", "/no_think please", "/think",
         "ǅ title ß", "\u2028sep\u00a0nbsp", "<|im_end|>", "1.0", "   "]


def _random_value(rng, depth=0):
    kinds = ["int", "float", "str", "bool", "null"] + (["list", "dict"] if depth < 2 else [])
    k = rng.choice(kinds)
    if k == "int":
        return rng.choice([0, 1, -7, 42, 10**12])
    if k == "float":
        return rng.choice([1.0, 2.5, -0.125, 1e-7, 3.14159, 1e21])
    if k == "str":
        return rng.choice(TEXTS)
    if k == "bool":
        return rng.choice([True, False])
    if k == "null":
        return None
    if k == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["a", "b", "key", "ключ", "x y"]): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _call_id(rng):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(9))


def random_conversation(rng):
    msgs = []
    if rng.random() < 0.5:
        msgs.append({"role": rng.choice(["system", "system", "developer"]), "content": rng.choice(TEXTS)})
    for turn in range(rng.randint(0, 4)):
        msgs.append({"role": "user", "content": rng.choice(TEXTS)})
        if rng.random() < 0.15:
            continue  # leaves two user turns in a row sometimes
        a = {"role": "assistant", "content": rng.choice(TEXTS)}
        if rng.random() < 0.3:
            a[rng.choice(["reasoning_content", "thinking", "reasoning"])] = rng.choice(TEXTS)
        if rng.random() < 0.3:
            calls = []
            for _ in range(rng.choice([1, 1, 2])):
                args = {rng.choice(["city", "query", "n"]): _random_value(rng) for _ in range(rng.randint(0, 3))}
                if rng.random() < 0.2:
                    args = json.dumps(args)
                calls.append({"id": _call_id(rng), "type": "function",
                              "function": {"name": rng.choice(["get_weather", "search"]), "arguments": args}})
            a["tool_calls"] = calls
            msgs.append(a)
            for c in calls:
                msgs.append({"role": "tool", "tool_call_id": c["id"], "content": rng.choice(TEXTS)})
            continue
        msgs.append(a)
    conv = {"messages": msgs, "add_generation_prompt": rng.random() < 0.6}
    if rng.random() < 0.4:
        conv["tools"] = rng.sample([WEATHER_TOOL, SEARCH_TOOL, NULLABLE_TOOL], rng.randint(1, 2))
    if rng.random() < 0.4:
        conv["enable_thinking"] = rng.choice([True, False])
    if rng.random() < 0.2:
        conv["reasoning_effort"] = rng.choice(["low", "high"])
    return conv


@pytest.mark.parametrize("template_name", TEMPLATE_FILES)
def test_testdata_template_random_conversations(tool, tmp_path, testdata, template_name):
    import random
    src = (testdata / "templates" / template_name).read_text(encoding="utf-8")
    rng = random.Random(template_name)  # the same conversations on every run
    convs = []
    for i in range(40):
        conv = random_conversation(rng)
        # Steer half of them into what these two templates accept, so that most
        # cases render rather than fail on both sides.
        if "Hermes" in template_name and i % 2 == 0:
            conv["tools"] = [WEATHER_TOOL, SEARCH_TOOL]
        if "gemma" in template_name and i % 2 == 0:
            conv["messages"] = [m for m in conv["messages"] if m["role"] in ("user", "assistant")]
            conv["messages"] = [{"role": ("user", "assistant")[k % 2], "content": m["content"]}
                                for k, m in enumerate(conv["messages"])]
        convs.append(conv)
    for i, (conv, res) in enumerate(zip(convs, render_c_batch(tool, tmp_path, src, convs))):
        assert_same(src, conv, res, f"{template_name} / random #{i}")


def test_every_testdata_template_is_listed(testdata):
    # A template added to the test data must join the suite above, not sit unchecked.
    present = sorted(p.name for p in (testdata / "templates").glob("*.jinja"))
    assert present == sorted(TEMPLATE_FILES)


@functools.lru_cache(maxsize=None)
def _gguf_template(path):
    # Reading a GGUF's metadata takes seconds: once per file.
    gguf = pytest.importorskip("gguf")
    r = gguf.GGUFReader(str(path))
    f = r.fields.get("tokenizer.chat_template")
    if f is None:
        return None
    return bytes(f.parts[f.data[0]]).decode("utf-8")


@pytest.mark.parametrize("conv_name", sorted(CONVERSATIONS))
def test_smollm2_gguf_template_matches_jinja2(tool, workdir, smollm2, conv_name):
    src = _gguf_template(smollm2)
    assert src, "SmolLM2 GGUF has no tokenizer.chat_template"
    assert_same(src, CONVERSATIONS[conv_name], c_result(tool, workdir, "smollm2", src, conv_name),
                f"SmolLM2 / {conv_name}")


def test_gemma3_gguf_template(tool, tmp_path, gemma3):
    src = _gguf_template(gemma3)
    if src is None:
        pytest.skip("gemma-3-270m-q4_k_m.gguf carries no tokenizer.chat_template key "
                    "(nothing to render; Gemma 2's template is covered from the test data)")
    names = sorted(CONVERSATIONS)
    for name, res in zip(names, render_c_batch(tool, tmp_path, src, [CONVERSATIONS[n] for n in names])):
        assert_same(src, CONVERSATIONS[name], res, f"Gemma 3 / {name}")
