"""The binary's top-level behaviour: help, version, unknown commands."""
from conftest import run_inferd


def test_help_lists_every_command(inferd_bin):
    out = run_inferd(inferd_bin, "--help").stdout
    for cmd in ("serve", "run", "bench", "info", "tokenize", "synth", "quantize"):
        assert f"  {cmd} " in out


def test_unknown_command_is_a_usage_error(inferd_bin):
    cp = run_inferd(inferd_bin, "frobnicate", check=False)
    assert cp.returncode == 2
    assert "unknown command 'frobnicate'" in cp.stderr
