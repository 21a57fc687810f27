"""Values resolved from ``{"$env": NAME}`` work as strings but never show in a repr (hook tracing, tracebacks)."""

from __future__ import annotations

import json
import logging

from flywheel_core import Target, hookimpl
from flywheel_core.config import Secret, resolve_secrets
from flywheel_core.testing import run_cli

CANARY = "canary-" + "S3cr3t" * 6


def test_a_resolved_secret_is_a_string_whose_repr_is_masked(monkeypatch) -> None:
    monkeypatch.setenv("SOME_TOKEN", CANARY)
    table = resolve_secrets({"token": {"$env": "SOME_TOKEN"}, "url": "https://x"}, "targets.t")
    assert isinstance(table["token"], Secret) and table["token"] == CANARY
    assert f"Bearer {table['token']}" == f"Bearer {CANARY}" and json.dumps(table["token"]) == json.dumps(CANARY)
    assert CANARY not in repr(table) and CANARY not in str(table)
    assert table["url"] == "https://x" and type(table["url"]) is str


class _Target:
    @hookimpl
    def flywheel_targets(self):
        return [Target("canary", "test", {"type": "object"})]

    @hookimpl
    def flywheel_publish(self, target, items, config, ctx):
        return [] if target == "canary" else None


def test_verbose_hook_tracing_does_not_print_a_targets_secret(tmp_path, echo_host, example, monkeypatch, caplog) -> None:
    # `flywheel -v` traces every hook call with its arguments, the target's config table included.
    monkeypatch.setenv("CANARY_TOKEN", CANARY)
    echo_host.register(_Target(), name="canary", distribution="flywheel-canary", version="1")
    config = tmp_path / "flywheel.toml"
    config.write_text('out_dir = "out"\nstate_dir = "state"\n[targets.canary]\ntoken = {"$env" = "CANARY_TOKEN"}\n',
                      encoding="utf-8")
    with caplog.at_level(logging.DEBUG):
        ran = run_cli(["-v", "run", example(), "--config", config], host=echo_host)
        published = run_cli(["-v", "publish", "--config", config], host=echo_host)
    assert ran.exit_code == 0, ran.output
    assert "flywheel_publish" in caplog.text, "the hook call was traced"
    assert CANARY not in caplog.text + ran.output + published.output


def test_verbose_hook_tracing_does_not_print_a_token_pasted_into_the_session(tmp_path, echo_host, example, caplog) -> None:
    # Each traced hook call shows the whole Session: `flywheel -v run` in CI printed a GitHub
    # token an agent had pasted into a commit message, whole, once per hook.
    token = "ghp_" + "R8kq1Xv0cQ3mB7nZ2wL5yT9uE4sA6dF1gH3j"
    path = example()
    doc = json.loads(path.read_text())
    doc["source_data"]["git_commits"][0]["message"] = f"fix: deploy with {token}"
    path.write_text(json.dumps(doc))
    with caplog.at_level(logging.DEBUG):
        ran = run_cli(["-v", "run", path, "--out", tmp_path / "out"], host=echo_host)
    assert ran.exit_code == 0, ran.output
    assert "flywheel_generate" in caplog.text and "[redacted:github-token]" in caplog.text
    assert token[4:] not in caplog.text + ran.output
