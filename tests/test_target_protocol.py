"""What a target can tell the queue: the kinds it takes, checkpoints, permanent failures, rate limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from flywheel_core import PublishResult, Target, hookimpl
from flywheel_core.testing import run_cli

SCHEMA = {"type": "object", "properties": {"mode": {"type": "string"}}}


class Stepper:
    """A target publishing each item in three steps, checkpointing after each one."""

    def __init__(self, kinds: tuple[str, ...] = ()) -> None:
        self.kinds = kinds
        self.done: list[tuple[str, int]] = []  # (item key, step) actually performed
        self.seen_progress: list[dict] = []
        self.answer: dict | None = None  # PublishResult kwargs to return instead of publishing
        self.die_after_step: int | None = None

    @hookimpl
    def flywheel_targets(self):
        return [Target("steps", "three steps per item", SCHEMA, kinds=self.kinds)]

    @hookimpl
    def flywheel_publish(self, target, items, config, ctx):
        if target != "steps":
            return None
        out = []
        for item in items:
            self.seen_progress.append(dict(item.progress))
            if self.answer is not None:
                out.append(PublishResult(item.id, False, **self.answer))
                continue
            start = item.progress.get("step", 0)
            for step in range(start + 1, 4):
                self.done.append((item.key, step))
                ctx.checkpoint(item, {"step": step})
                if step == self.die_after_step:
                    raise ConnectionError("lost the connection after step %d" % step)
            out.append(PublishResult(item.id, True, receipt={"steps": 3}))
        return out


@pytest.fixture
def project(tmp_path: Path, echo_host, queue_backend):
    def make(kinds: tuple[str, ...] = ()):
        stepper = Stepper(kinds)
        echo_host.register(stepper, name="steps", distribution="flywheel-steps", version="1")
        config = tmp_path / "flywheel.toml"
        config.write_text('out_dir = "out"\nstate_dir = "state"\n[queue]\nbackoff_seconds = 0\nmax_attempts = 3\n'
                          f'{queue_backend.toml}[targets.steps]\nmode = "x"\n', encoding="utf-8")

        def cli(*args):
            return run_cli([*map(str, args), "--config", config], host=echo_host)

        return stepper, cli

    return make


def test_a_target_gets_only_the_kinds_it_declares(project, example) -> None:
    stepper, cli = project(kinds=("social_post",))
    result = cli("run", example())
    assert result.exit_code == 0, result.output
    assert "queued for steps" not in result.stdout
    assert cli("queue", "list", "--json").json() == []
    [made] = Path(result.stdout.split("wrote summary", 1)[1].split()[0]).parent.glob("summary.md")
    refused = cli("queue", "add", "--kind", "summary", "--targets", "steps", made.resolve())
    assert refused.exit_code == 2
    assert "target 'steps' does not take 'summary' artifacts (it takes: social_post)" in refused.stderr


def test_a_checkpointed_item_resumes_where_it_stopped(project, example) -> None:
    stepper, cli = project()
    cli("run", example())
    stepper.die_after_step = 2
    assert cli("publish").exit_code == 1
    stepper.die_after_step = None
    assert cli("publish").exit_code == 0
    keys = {key for key, _ in stepper.done}
    assert len(keys) == 1 and len(next(iter(keys))) == 64
    assert [step for _, step in stepper.done] == [1, 2, 3], "step 1 and 2 were not repeated"
    assert stepper.seen_progress == [{}, {"step": 2}]
    [entry] = cli("queue", "list", "--json").json()
    assert entry["status"] == "published" and entry["progress"] == {"step": 3}


def test_a_permanent_failure_is_dead_at_once(project, example) -> None:
    stepper, cli = project()
    cli("run", example())
    stepper.answer = {"error": "422 Validation failed: Text character limit of 500 exceeded", "permanent": True}
    result = cli("publish")
    assert result.exit_code == 1
    [entry] = cli("queue", "list", "--json").json()
    assert entry["status"] == "dead" and entry["attempts"] == 1
    assert "character limit" in entry["last_error"]


def test_retry_after_defers_without_spending_an_attempt(project, example) -> None:
    stepper, cli = project()
    cli("run", example())
    stepper.answer = {"error": "429 Too Many Requests", "retry_after": 0}
    for _ in range(5):  # more than max_attempts: a rate limit never kills an entry
        cli("publish")
    [entry] = cli("queue", "list", "--json").json()
    assert entry["status"] == "failed" and entry["attempts"] == 0
    stepper.answer = {"error": "429 Too Many Requests", "retry_after": 3600}
    cli("publish")
    [entry] = cli("queue", "list", "--json").json()
    assert entry["next_attempt_at"] > entry["created_at"]
    assert cli("publish").stdout.startswith("nothing is due; 1 waiting")
