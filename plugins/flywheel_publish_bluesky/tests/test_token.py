"""A canary app password set in the environment reaches the PDS and nothing else: files, logs, argv, the queue.

The session tokens the PDS hands out (JWTs, ``eyJ...``) are kept in memory only: none is on disk either.
"""

from __future__ import annotations

from pathlib import Path


def _scan(root: Path, needles: list[bytes]) -> list[str]:
    return [f"{p}: {n[:8]!r}" for p in root.rglob("*") if p.is_file() for n in needles if n in p.read_bytes()]


def test_the_app_password_is_found_nowhere_after_a_run_with_failures_and_retries(proxied, proxy, pds, account,
                                                                                 long_text) -> None:
    password = account.app_password
    proxied.run(proxied.session(long_text, images=1),
                proxied.session("Second post.", session_id="sess-2025-12-03"))
    proxy.fail("/xrpc/com.atproto.repo.uploadBlob", 500)
    proxy.fail("/xrpc/com.atproto.repo.putRecord", "lost", nth=2)
    outputs, argv = [], []
    for _ in range(6):
        proc = proxied.spawn("-v", "publish")
        argv.append(Path(f"/proc/{proc.pid}/cmdline").read_bytes())
        out, err = proc.communicate(timeout=120)
        outputs.append(out + err)
        if proc.returncode == 0:
            break
    assert proc.returncode == 0, outputs[-1]
    assert len(outputs) >= 3, "the faults made it fail and retry"
    texts = [r["value"]["text"] for r in pds.records(account.did)]
    assert "Second post." in texts and len(texts) == len(proxied.variants()["bluesky"]) + 1
    logins = [r for r in proxy.requests if r["path"].endswith("createSession")]
    assert logins, "the password was sent to the PDS"

    needles = [password.encode(), b"eyJ"]  # the app password, and any JWT (access or refresh token)
    assert _scan(proxied.root, needles) == [], "no file under the project (state, queue, out, sessions)"
    logs = "\n".join(outputs)
    assert "flywheel: DEBUG" in logs, "the runs logged at debug level"
    assert password not in logs and "eyJ" not in logs
    assert all(password.encode() not in a for a in argv)
    assert password not in proxied.cli("queue", "list", "--json").stdout
