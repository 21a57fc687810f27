"""A canary token set in the environment reaches the server and nothing else: files, logs, argv, the queue."""

from __future__ import annotations

from pathlib import Path

TOKEN_ENV = "MASTODON_TOKEN"


def _scan(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_the_token_is_found_nowhere_after_a_run_with_failures_and_retries(project, mastodon, long_text) -> None:
    token = mastodon.token
    project.run(project.session(long_text, images=1), project.session("Second post.", session_id="sess-2025-12-03"))
    mastodon.fail("POST", "/api/v2/media", 500)
    mastodon.fail("POST", "/api/v1/statuses", 500, nth=2)
    mastodon.fail("POST", "/api/v1/statuses", "lost", nth=3)
    outputs, argv = [], []
    for _ in range(6):
        proc = project.spawn("-v", "publish")
        argv.append(Path(f"/proc/{proc.pid}/cmdline").read_bytes())
        out, err = proc.communicate(timeout=120)
        outputs.append(out + err)
        if proc.returncode == 0:
            break
    assert proc.returncode == 0, outputs[-1]
    assert len(outputs) >= 3, "the faults made it fail and retry"
    assert {p["text"] for p in mastodon.posts()} >= {"Second post."}
    assert {r["headers"].get("Authorization") for r in mastodon.requests} == {f"Bearer {token}"}

    assert _scan(project.root, token.encode()) == [], "no file under the project (state, queue, out, sessions)"
    logs = "\n".join(outputs)
    assert "flywheel: DEBUG" in logs, "the runs logged at debug level"
    assert token not in logs
    assert all(token.encode() not in a for a in argv)
    assert token not in project.cli("queue", "list", "--json").stdout
