"""A canary token is used for https-style remotes yet never written to a file, argv, output or the queue."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest
from werkzeug import Request, Response

ID_A = "sess-a-2025-12-02"
TOKEN = "ghp_" + "CanaryT0ken" * 4


def _needles(token: str) -> list[bytes]:
    header = base64.b64encode(f"x-access-token:{token}".encode())
    return [token.encode(), header, token[4:].encode()]


def _objects(git_dir: Path) -> bytes:
    """Every object of a repository, decompressed (tokens would hide in zlib otherwise)."""
    proc = subprocess.run(["/usr/bin/git", f"--git-dir={git_dir}", "cat-file", "--batch-all-objects", "--batch"],
                          capture_output=True, check=True)
    return proc.stdout


def _scan(root: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {n[:12]!r}" for n in needles if n in data]
        if path.is_dir() and (path / "HEAD").is_file() and (path / "objects").is_dir():
            data = _objects(path)
            found += [f"{path} objects: {n[:12]!r}" for n in needles if n in data]
    return found


def test_canary_token_reaches_the_server_and_nothing_else(ws, git_http, git_shim, httpserver, monkeypatch) -> None:
    argv_log, _ = git_shim
    url, served_repo, seen = git_http("sessions.git", TOKEN)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    api_auth: list[str] = []

    def release(request: Request) -> Response:
        api_auth.append(request.headers.get("Authorization", ""))
        if request.method == "GET":
            return Response('{"message": "Not Found"}', 404, content_type="application/json")
        return Response('{"id": 1, "html_url": "https://github.com/o/r/releases/tag/x"}', 201,
                        content_type="application/json")

    httpserver.expect_request(re.compile("^/repos/o/r/releases.*")).respond_with_handler(release)
    ws.configure(remote=url, release=True, repository="o/r", api_url=httpserver.url_for("/").rstrip("/"))
    ws.run(ws.session())
    proc = ws.subprocess("publish")
    assert proc.returncode == 0, proc.stderr
    assert any(a.startswith("Basic ") for a in seen), "the token was sent to the git server"
    assert ws.git(f"--git-dir={served_repo}", "ls-tree", "-r", "--name-only", "main").count("\n") == 3
    assert argv_log.read_text().count("push") == 1
    assert api_auth == [f"Bearer {TOKEN}"] * 2, "the release API got the token too"

    needles = _needles(TOKEN)
    leaks = _scan(ws.root, needles)  # state dir with the cache clone, out dir, session files, argv log
    assert leaks == []
    for text in (proc.stdout, proc.stderr, argv_log.read_text()):
        assert not any(n.decode() in text for n in needles)
    config = (ws.root / "state").rglob("config")
    assert all(b"extraheader" not in p.read_bytes().lower() for p in config)


def test_rejected_token_fails_cleanly_without_leaking_it(ws, git_http, git_shim, monkeypatch) -> None:
    url, _, seen = git_http("sessions.git", "ghp_" + "TheRightOne0" * 3)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    ws.configure(remote=url)
    ws.run(ws.session())
    proc = ws.subprocess("publish")
    assert proc.returncode == 1
    assert "FAILED" in proc.stderr and "Traceback" not in proc.stderr
    assert seen, "the server was asked"
    assert _scan(ws.root, _needles(TOKEN)) == []
    assert TOKEN not in proc.stdout + proc.stderr


def test_token_is_not_sent_over_plain_http_to_other_hosts() -> None:
    from flywheel_publish_github.gitrepo import auth_env

    assert auth_env("http://example.com/o/r.git", TOKEN) == {}
    assert auth_env("git@github.com:o/r.git", TOKEN) == {}
    env = auth_env("https://github.com/o/r.git", TOKEN)
    assert env["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraHeader"
    assert TOKEN not in " ".join(env.values()), "only the encoded header, only in the environment"


@pytest.mark.parametrize("message", [
    f"fatal: unable to access 'https://x-access-token:{TOKEN}@github.com/o/r.git/'",
    f"remote: Invalid username or password {TOKEN}",
])
def test_git_errors_are_redacted(message: str) -> None:
    from flywheel_core import redact

    assert TOKEN not in redact(message)
