"""`inferd serve` through the official `openai` SDK, unmodified, on a synthetic model
the test makes itself (and on SmolLM2 where it is installed)."""
import concurrent.futures as cf

import openai
import pytest

from serverproc import Server


@pytest.fixture(scope="module")
def server(inferd_bin, tiny_model):
    s = Server(inferd_bin, tiny_model, "--max-num-seqs", "16", "--kv-cache-bytes", str(64 << 20))
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=60)


MSG = [{"role": "user", "content": "Tell me a story about a cat."}]


def test_models_lists_the_model(server, client):
    models = client.models.list().data
    assert len(models) == 1 and models[0].id == "tiny"


def test_chat_non_streaming_usage_and_length(client):
    r = client.chat.completions.create(model="tiny", messages=MSG, max_tokens=12, temperature=0)
    c = r.choices[0]
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    assert c.message.role == "assistant" and isinstance(c.message.content, str)
    assert c.finish_reason in ("length", "stop")
    assert r.usage.completion_tokens <= 12
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    if c.finish_reason == "length":
        assert r.usage.completion_tokens == 12


def test_streaming_equals_non_streaming(client):
    whole = client.chat.completions.create(model="tiny", messages=MSG, max_tokens=16, temperature=0)
    stream = client.chat.completions.create(model="tiny", messages=MSG, max_tokens=16, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    text, finish, usage, first = "", None, None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for ch in chunk.choices:
            if first is None and ch.delta.content:
                first = ch.delta
            text += ch.delta.content or ""
            finish = ch.finish_reason or finish
    assert text == whole.choices[0].message.content
    assert finish == whole.choices[0].finish_reason
    assert usage.completion_tokens == whole.usage.completion_tokens
    assert usage.prompt_tokens == whole.usage.prompt_tokens
    # The first chunk carries real text and the role together (no early role-only chunk).
    assert first.role == "assistant"


def test_completions_and_max_tokens(client):
    r = client.completions.create(model="tiny", prompt="Once upon a time", max_tokens=5, temperature=0)
    assert r.object == "text_completion"
    assert r.usage.completion_tokens <= 5
    s = "".join(c.choices[0].text for c in client.completions.create(
        model="tiny", prompt="Once upon a time", max_tokens=5, temperature=0, stream=True))
    assert s == r.choices[0].text


def test_stop_string_is_never_emitted(client):
    base = client.completions.create(model="tiny", prompt="a b c", max_tokens=24, temperature=0)
    text = base.choices[0].text
    # A stop string taken from the middle of the greedy text, spanning tokens if it can.
    stop = text[len(text) // 3: len(text) // 3 + 3]
    if not stop.strip():
        pytest.skip("greedy text too short to pick a stop string")
    cut = text[: text.index(stop)]
    r = client.completions.create(model="tiny", prompt="a b c", max_tokens=24, temperature=0, stop=[stop])
    assert r.choices[0].text == cut
    assert r.choices[0].finish_reason == "stop"
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model="tiny", prompt="a b c", max_tokens=24, temperature=0, stop=stop, stream=True))
    assert streamed == cut


def test_logprobs(client):
    r = client.chat.completions.create(model="tiny", messages=MSG, max_tokens=4, temperature=0,
                                       logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for e in content:
        assert e.logprob <= 0.0
        assert len(e.top_logprobs) == 3
        # Greedy: the chosen token is the most probable one.
        assert e.top_logprobs[0].logprob == pytest.approx(e.logprob, abs=1e-6)
        assert e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob >= e.top_logprobs[2].logprob
    rc = client.completions.create(model="tiny", prompt="Once", max_tokens=3, temperature=0, logprobs=2)
    lp = rc.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == rc.usage.completion_tokens
    assert "".join(lp.tokens) == rc.choices[0].text


def test_seed_reproducible_and_n(client):
    kw = dict(model="tiny", messages=MSG, max_tokens=16, temperature=1.0, top_p=0.9, seed=1234)
    a = client.chat.completions.create(**kw).choices[0].message.content
    b = client.chat.completions.create(**kw).choices[0].message.content
    assert a == b
    many = client.chat.completions.create(**{**kw, "n": 3})
    assert [c.index for c in many.choices] == [0, 1, 2]
    assert many.choices[0].message.content == a  # choice i uses seed + i
    texts = {c.message.content for c in many.choices}
    assert len(texts) >= 2


def test_n_choices_reuse_the_prompt_kv(server, client):
    # Choices after the first are submitted once the first has its prompt in
    # the KV cache, so they find its full blocks in the prefix cache.
    words = " ".join(f"w{i}" for i in range(60))
    msg = [{"role": "user", "content": f"Unique prompt for the n test: {words}"}]
    hits0 = server.metric("inferd:prefix_cache_hit_blocks_total")
    r = client.chat.completions.create(model="tiny", messages=msg, max_tokens=4, temperature=1.0,
                                       seed=7, n=3)
    assert len(r.choices) == 3
    hits = server.metric("inferd:prefix_cache_hit_blocks_total") - hits0
    p = r.usage.prompt_tokens
    assert p > 40  # several 16-token blocks
    # each of choices 1 and 2 reuses every full block before the prompt's last token
    assert hits >= 2 * ((p - 1) // 16), (hits, p)


def test_sixteen_concurrent_streams(client):
    def one(i):
        text = ""
        for chunk in client.chat.completions.create(
                model="tiny", messages=[{"role": "user", "content": f"request {i}"}], max_tokens=20,
                temperature=0, stream=True):
            for ch in chunk.choices:
                text += ch.delta.content or ""
        solo = client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": f"request {i}"}], max_tokens=20,
            temperature=0).choices[0].message.content
        return text == solo
    with cf.ThreadPoolExecutor(16) as ex:
        assert all(ex.map(one, range(16)))


def test_errors_surface_as_sdk_exceptions(server, client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="tiny", messages=MSG, max_tokens=-3)
    assert e.value.body["param"] == "max_tokens"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="tiny", messages=MSG, temperature="hot")
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="tiny", prompt="x " * 5000, max_tokens=4)
    assert "context" in str(e.value)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=MSG)


def test_api_key(inferd_bin, tiny_model):
    s = Server(inferd_bin, tiny_model, "--api-key", "sekret")
    try:
        bad = openai.OpenAI(base_url=s.url + "/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()
        good = openai.OpenAI(base_url=s.url + "/v1", api_key="sekret", max_retries=0)
        assert good.models.list().data[0].id == "tiny"
    finally:
        assert s.stop() == 0


def test_real_model_answers(inferd_bin, smollm2):
    s = Server(inferd_bin, smollm2, "--kv-cache-bytes", str(256 << 20))
    try:
        c = openai.OpenAI(base_url=s.url + "/v1", api_key="x", max_retries=0, timeout=300)
        # llama.cpp's greedy continuation of this prompt on the same file is " Paris."
        r = c.completions.create(model=s.model_id(), prompt="The capital of France is",
                                 temperature=0, max_tokens=4)
        assert "Paris" in r.choices[0].text
        chat = c.chat.completions.create(model=s.model_id(), temperature=0, max_tokens=8,
                                         messages=[{"role": "user", "content": "Hi!"}])
        assert chat.usage.completion_tokens > 0
    finally:
        assert s.stop() == 0
