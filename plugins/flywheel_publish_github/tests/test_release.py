"""GitHub Releases against a real HTTP server on 127.0.0.1 scripted like GitHub: 201, 422, 403, 500, drops."""

from __future__ import annotations

import json
import re
import socket
import time
from typing import Any, Callable

import pytest
from werkzeug import Request, Response

ID_A = "sess-a-2025-12-02"
TAG = f"flywheel-{ID_A}"
TOKEN = "ghp_" + "R3leaseCanary" * 3


class FakeGitHub:
    """The releases endpoints of one repository, with faults injected per HTTP method, in order."""

    def __init__(self, server: Any) -> None:
        self.releases: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.auth: set[str] = set()
        self.faults: list[tuple[str, Callable[[Request], Response]]] = []
        server.expect_request(re.compile(r"^/repos/o/r/releases.*")).respond_with_handler(self.handle)

    def fault(self, method: str, action: Callable[[Request], Response]) -> None:
        self.faults.append((method, action))

    def handle(self, request: Request) -> Response:
        self.calls.append((request.method, request.path))
        self.auth.add(request.headers.get("Authorization", ""))
        for i, (method, action) in enumerate(self.faults):
            if method == request.method:
                del self.faults[i]
                return action(request)
        return self.normal(request)

    def normal(self, request: Request) -> Response:
        path = request.path
        if request.method == "GET" and path.startswith("/repos/o/r/releases/tags/"):
            release = self.releases.get(path.rsplit("/", 1)[1])
            return _json(release, 200) if release else _json({"message": "Not Found"}, 404)
        if request.method == "POST" and path == "/repos/o/r/releases":
            return self.create(request)
        if request.method == "PATCH":
            release_id = int(path.rsplit("/", 1)[1])
            release = next(r for r in self.releases.values() if r["id"] == release_id)
            release.update(request.get_json())
            return _json(release, 200)
        return _json({"message": "unexpected"}, 400)

    def create(self, request: Request) -> Response:
        data = request.get_json()
        if data["tag_name"] in self.releases:
            return _json({"message": "Validation Failed", "errors": [{"code": "already_exists"}]}, 422)
        release = {**data, "id": len(self.releases) + 1,
                   "html_url": f"https://github.com/o/r/releases/tag/{data['tag_name']}"}
        self.releases[data["tag_name"]] = release
        return _json(release, 201)

    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]


def _json(data: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers or {}, content_type="application/json")


@pytest.fixture
def github(ws, httpserver, monkeypatch) -> FakeGitHub:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    ws.configure(release=True, repository="o/r", api_url=httpserver.url_for("/").rstrip("/"), rate_limit_max_wait=5)
    return FakeGitHub(httpserver)


def _entry(ws, kind: str) -> dict[str, Any]:
    return next(e for e in ws.queue() if e["kind"] == kind)


def test_creates_one_release_per_build_with_the_build_log(ws, github) -> None:
    ws.run(ws.session())
    result = ws.publish()
    assert result.exit_code == 0, result.output
    [release] = github.releases.values()
    commit = ws.log()[0]
    assert release["tag_name"] == TAG and release["target_commitish"] == commit
    assert release["body"] == f"# Build log {ID_A}\n\n- first\n" and release["name"] == f"Log {ID_A}"
    receipt = _entry(ws, "build_log")["receipt"]["release"]
    assert receipt == {"id": 1, "tag": TAG, "url": f"https://github.com/o/r/releases/tag/{TAG}", "created": True}
    assert "release" not in _entry(ws, "readme")["receipt"]
    assert github.auth == {f"Bearer {TOKEN}"}


def test_unchanged_release_is_left_alone_and_a_changed_one_updated(ws, github) -> None:
    session = ws.session()
    ws.run(session)
    assert ws.publish().exit_code == 0
    for path in (ws.root / "state").glob("queue.sqlite3*"):
        path.unlink()
    github.calls.clear()
    ws.run(session)
    assert ws.publish().exit_code == 0
    assert github.methods() == ["GET"], "same body: looked up, not rewritten"
    ws.session(overview="second")
    ws.run(session)
    assert ws.publish().exit_code == 0
    [release] = github.releases.values()
    assert release["body"] == f"# Build log {ID_A}\n\n- second\n"
    assert github.methods()[-2:] == ["GET", "PATCH"]


def test_422_because_it_already_exists_updates_it(ws, github) -> None:
    def someone_else_created_it(request: Request) -> Response:
        github.releases[TAG] = {"id": 7, "tag_name": TAG, "body": "old", "name": "old",
                                "html_url": f"https://github.com/o/r/releases/tag/{TAG}"}
        return github.create(request)

    github.fault("POST", someone_else_created_it)
    ws.run(ws.session())
    assert ws.publish().exit_code == 0
    [release] = github.releases.values()
    assert release["id"] == 7 and release["body"].startswith("# Build log")
    assert github.methods() == ["GET", "POST", "GET", "PATCH"]


def test_rate_limit_with_retry_after_is_waited_out(ws, github) -> None:
    github.fault("GET", lambda r: _json({"message": "You have exceeded a secondary rate limit"}, 403, {"Retry-After": "1"}))
    ws.run(ws.session())
    assert ws.publish().exit_code == 0
    assert len(github.releases) == 1
    assert github.methods() == ["GET", "GET", "POST"]


def test_rate_limit_beyond_the_allowed_wait_fails_and_retries_later(ws, github) -> None:
    reset = str(int(time.time()) + 3600)
    github.fault("GET", lambda r: _json({"message": "API rate limit exceeded"}, 403,
                                        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}))
    ws.run(ws.session())
    result = ws.publish()
    assert result.exit_code == 1
    assert "rate limit" in result.stderr and "the queue will retry later" in result.stderr
    assert TOKEN not in result.output
    entry = _entry(ws, "build_log")
    assert entry["status"] == "failed" and entry["next_attempt_at"]
    assert _entry(ws, "readme")["status"] == "published"
    assert github.releases == {}
    assert ws.cli("queue", "retry", str(entry["id"])).exit_code == 0
    assert ws.publish().exit_code == 0
    assert len(github.releases) == 1
    assert len(ws.log()) == 1, "the retry found the commit on the branch and made no second one"


def test_server_error_is_retried(ws, github) -> None:
    github.fault("POST", lambda r: _json({"message": "Server Error"}, 500))
    ws.run(ws.session())
    assert ws.publish().exit_code == 0
    assert len(github.releases) == 1


def test_connection_dropped_after_the_write_does_not_duplicate(ws, github) -> None:
    def create_then_drop(request: Request) -> Response:
        github.create(request)
        sock = request.environ["werkzeug.socket"]
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        return Response("")

    github.fault("POST", create_then_drop)
    ws.run(ws.session())
    result = ws.publish()
    assert result.exit_code == 0, result.output
    assert len(github.releases) == 1
    assert github.methods() == ["GET", "POST", "GET"]
    assert _entry(ws, "build_log")["receipt"]["release"]["created"] is False


def test_forbidden_without_rate_limit_is_not_retried(ws, github) -> None:
    github.fault("GET", lambda r: _json({"message": "Resource not accessible by integration"}, 403))
    ws.run(ws.session())
    result = ws.publish()
    assert result.exit_code == 1
    assert "HTTP 403: Resource not accessible by integration" in result.stderr
    assert github.methods() == ["GET"]


def test_release_without_a_token_is_a_clear_failure(ws, github, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    ws.run(ws.session())
    result = ws.publish()
    assert result.exit_code == 1
    assert "release = true needs a token" in result.stderr
    assert github.calls == []
