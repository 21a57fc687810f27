"""A Mastodon server on 127.0.0.1 that follows the documented API, with faults on demand; a project using it.

The server implements what the target calls, as docs.joinmastodon.org describes it: bearer-token
auth (401 ``{"error": "The access token is invalid"}``), ``POST /api/v1/statuses`` (form data,
``Idempotency-Key`` remembered for an hour per account: the same key returns the same status),
``POST /api/v2/media`` (202 and ``url: null`` while processing; ``GET /api/v1/media/:id`` answers
206 until it is done, then 200 with the url; posting unprocessed media is a 422),
``GET /api/v1/accounts/verify_credentials``, ``GET /api/v2/instance`` (``configuration.statuses.max_characters``,
checked on each status with the content warning counted, as Mastodon's StatusLengthValidator does), ``GET /api/v1/accounts/:id/statuses`` (newest first,
``limit`` at most 40), ``GET /api/v1/statuses/:id/source``, and the rate-limit headers of
Mastodon's rack-attack (``X-RateLimit-Limit/Remaining/Reset``, Reset in ISO 8601; 429 when used up).
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import json
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from flywheel_core import Artifact, SessionType, hookimpl, social_variants
from flywheel_core.testing import build_session, run_cli

FLYWHEEL = Path(sys.executable).parent / "flywheel"
TOKEN = "mastodon-token-" + "Zq7" * 12
SESSION_ID = "sess-2025-12-02"


def png(width: int = 2, height: int = 2) -> bytes:
    """A valid RGB PNG of one colour (what a trade chart or a screenshot is, minus the pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x30\x60\x90" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeMastodon:
    """The server's state, shared by its request threads; tests read and steer it directly."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.token = TOKEN
        self.account = {"id": "109000000000000001", "username": "flywheel", "acct": "flywheel",
                        "display_name": "flywheel tests"}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.sources: dict[str, dict[str, str]] = {}
        self.idempotency: dict[str, tuple[str, float]] = {}
        self.honour_idempotency = True  # False: behave like servers that ignore the header
        self.media: dict[str, dict[str, Any]] = {}
        self.max_characters = 500  # the instance's limit, as /api/v2/instance states it
        self.processing_polls = 2  # GETs answered 206 before an upload is processed (0: 200 at once)
        self.limit, self.period = 300, 300
        self.used, self.window_start = 0, time.time()
        self.faults: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.kill_pid: int | None = None
        self._next = 110000000000000000
        self.url = ""

    # -- steering -------------------------------------------------------------------------------

    def fail(self, method: str, path: str, action: Any, *, nth: int = 1, times: int = 1, **extra: Any) -> None:
        """From now on, the ``nth`` matching request (and ``times - 1`` after it) meets ``action``:
        ``"lost"`` (done, then the connection closes without an answer), ``"kill"`` (done, then the
        publisher gets SIGKILL), or an HTTP status answered instead of doing it."""
        self.faults.append({"method": method, "path": path, "action": action, "skip": nth - 1, "times": times,
                            **extra})

    def texts(self) -> list[str]:
        return [s["text"] for s in self.sources.values()]

    def posts(self) -> list[dict[str, Any]]:
        return list(self.statuses.values())

    # -- helpers for the handler ----------------------------------------------------------------

    def new_id(self) -> str:
        self._next += 1
        return str(self._next)

    def fault_for(self, method: str, path: str) -> dict[str, Any] | None:
        for fault in self.faults:
            if fault["method"] == method and path.startswith(fault["path"]) and fault["times"] > 0:
                if fault["skip"] > 0:
                    fault["skip"] -= 1
                    return None
                fault["times"] -= 1
                return fault
        return None

    def rate_headers(self) -> dict[str, str]:
        now = time.time()
        if now - self.window_start >= self.period:
            self.used, self.window_start = 0, now
        reset = self.window_start + self.period
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
                "X-RateLimit-Reset": datetime.fromtimestamp(reset, UTC).isoformat(timespec="microseconds")}

    def status_json(self, status_id: str) -> dict[str, Any]:
        status = self.statuses[status_id]
        return {**{k: v for k, v in status.items() if k != "text"}, "account": self.account}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: FakeMastodon

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _send(self, code: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        for name, value in {**self.server_state.rate_headers(), **(headers or {})}.items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _form(self, body: bytes) -> tuple[dict[str, list[str]], dict[str, tuple[str, str, bytes]]]:
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
            fields: dict[str, list[str]] = {}
            files = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                filename = part.get_filename()
                payload = part.get_payload(decode=True) or b""
                if filename is not None:
                    files[name] = (filename, part.get_content_type(), payload)
                else:
                    fields.setdefault(name, []).append(payload.decode())
            return fields, files
        return parse_qs(body.decode(), keep_blank_values=True), {}

    def _handle(self) -> None:
        state = self.server_state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        query = parse_qs(urlsplit(self.path).query)
        with state.lock:
            state.requests.append({"method": self.command, "path": path, "headers": dict(self.headers)})
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                return self._send(401, {"error": "The access token is invalid"})
            rate = state.rate_headers()
            if int(rate["X-RateLimit-Remaining"]) <= 0:
                return self._send(429, {"error": "Too many requests"}, {"X-RateLimit-Remaining": "0"})
            state.used += 1
            fault = state.fault_for(self.command, path)
            if fault is not None and isinstance(fault["action"], int):
                headers = {"X-RateLimit-Remaining": "0"} if fault["action"] == 429 else {}
                headers.update(fault.get("headers") or {})
                return self._send(fault["action"], {"error": fault.get("error", "Internal server error")}, headers)
            code, answer = self._route(path, query, body)
            if fault is not None and fault["action"] in ("lost", "kill"):
                if fault["action"] == "kill":
                    deadline = time.monotonic() + 30
                    while state.kill_pid is None and time.monotonic() < deadline:
                        time.sleep(0.01)  # the test sets it right after starting the publisher
                    os.kill(state.kill_pid, signal.SIGKILL)
                self.close_connection = True
                return None  # done, and no answer ever reaches the client
            headers = fault.get("headers") if fault else None
            return self._send(code, answer, headers)

    def _route(self, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        state = self.server_state
        parts = path.strip("/").split("/")
        if self.command == "GET" and path == "/api/v2/instance":
            return 200, {"domain": urlsplit(state.url).netloc, "version": "4.3.0", "configuration": {
                "statuses": {"max_characters": state.max_characters, "max_media_attachments": 4,
                             "characters_reserved_per_url": 23}}}
        if self.command == "GET" and path == "/api/v1/accounts/verify_credentials":
            return 200, state.account
        if self.command == "GET" and len(parts) == 5 and parts[:3] == ["api", "v1", "accounts"] and parts[4] == "statuses":
            if parts[3] != state.account["id"]:
                return 404, {"error": "Record not found"}
            limit = min(int(query.get("limit", ["20"])[0]), 40)
            newest = sorted(state.statuses, key=int, reverse=True)[:limit]
            return 200, [state.status_json(i) for i in newest]
        if self.command == "GET" and len(parts) == 5 and parts[:3] == ["api", "v1", "statuses"] and parts[4] == "source":
            if parts[3] not in state.sources:
                return 404, {"error": "Record not found"}
            return 200, {"id": parts[3], **state.sources[parts[3]]}
        if self.command == "POST" and path == "/api/v1/statuses":
            return self._post_status(*self._form(body))
        if self.command == "POST" and path == "/api/v2/media":
            return self._upload(*self._form(body))
        if self.command == "GET" and len(parts) == 4 and parts[:3] == ["api", "v1", "media"]:
            media = state.media.get(parts[3])
            if media is None:
                return 404, {"error": "Record not found"}
            if media["polls_left"] > 0:
                media["polls_left"] -= 1
                return 206, None
            return 200, self._media_json(parts[3])
        return 404, {"error": "Record not found"}

    def _media_json(self, media_id: str) -> dict[str, Any]:
        media = self.server_state.media[media_id]
        ready = media["polls_left"] == 0
        return {"id": media_id, "type": "image", "description": media["description"],
                "url": f"{self.server_state.url}/system/media/{media_id}.png" if ready else None,
                "preview_url": f"{self.server_state.url}/system/media/{media_id}-small.png"}

    def _upload(self, fields: dict[str, list[str]], files: dict[str, tuple[str, str, bytes]]) -> tuple[int, Any]:
        state = self.server_state
        if "file" not in files:
            return 422, {"error": "Validation failed: File can't be blank"}
        filename, ctype, data = files["file"]
        if not ctype.startswith("image/") or not data:
            return 422, {"error": "Validation failed: File content type is invalid, File is invalid"}
        media_id = state.new_id()
        state.media[media_id] = {"polls_left": state.processing_polls, "description": fields.get("description", [None])[0],
                                 "data": data, "filename": filename, "content_type": ctype}
        return (202 if state.processing_polls else 200), self._media_json(media_id)

    def _post_status(self, form: dict[str, list[str]], files: dict) -> tuple[int, Any]:
        state = self.server_state
        key = self.headers.get("Idempotency-Key")
        now = time.time()
        if key and state.honour_idempotency:
            known = state.idempotency.get(f"{state.account['id']}:{key}")
            if known and known[1] > now:
                return 200, state.status_json(known[0])
        text = form.get("status", [""])[0]
        media_ids = form.get("media_ids[]", [])
        if not text.strip() and not media_ids:
            return 422, {"error": "Validation failed: Text can't be blank"}
        spoiler = form.get("spoiler_text", [""])[0]
        # Mastodon's StatusLengthValidator: the content warning and the text together, a URL as 23.
        if len(spoiler + re.sub(r"https?://\S+", "x" * 23, text)) > state.max_characters:
            return 422, {"error": f"Validation failed: Text character limit of {state.max_characters} exceeded"}
        visibility = form.get("visibility", ["public"])[0]
        if visibility not in ("public", "unlisted", "private", "direct"):
            return 422, {"error": "Validation failed: Visibility is not included in the list"}
        reply_to = form.get("in_reply_to_id", [None])[0]
        if reply_to is not None and reply_to not in state.statuses:
            return 404, {"error": "Record not found"}
        if len(media_ids) > 4:
            return 422, {"error": "Validation failed: Cannot attach more than 4 files"}
        attachments = []
        for media_id in media_ids:
            media = state.media.get(media_id)
            if media is None or media.get("status_id"):
                return 422, {"error": "Validation failed: Media attachments are invalid"}
            if media["polls_left"] > 0:
                return 422, {"error": "Cannot attach files that have not finished processing. Try again in a moment!"}
            attachments.append(self._media_json(media_id))
        status_id = state.new_id()
        for media_id in media_ids:
            state.media[media_id]["status_id"] = status_id
        state.statuses[status_id] = {
            "id": status_id, "created_at": _iso(now), "in_reply_to_id": reply_to,
            "in_reply_to_account_id": state.account["id"] if reply_to else None,
            "sensitive": form.get("sensitive", ["false"])[0] == "true", "spoiler_text": spoiler,
            "visibility": visibility, "language": form.get("language", [None])[0],
            "uri": f"{state.url}/users/flywheel/statuses/{status_id}", "url": f"{state.url}/@flywheel/{status_id}",
            "content": "<p>" + html.escape(text).replace("\n\n", "</p><p>").replace("\n", "<br />") + "</p>",
            "media_attachments": attachments, "reblog": None, "text": text,
        }
        state.sources[status_id] = {"text": text, "spoiler_text": spoiler}
        if key:
            state.idempotency[f"{state.account['id']}:{key}"] = (status_id, now + 3600)
        return 200, state.status_json(status_id)


@pytest.fixture
def mastodon():
    """A fresh fake Mastodon server on 127.0.0.1 for one test."""
    state = FakeMastodon()
    handler = type("Handler", (_Handler,), {"server_state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


class SocialGenerator:
    """A session type whose one artifact is a social post shaped as the real plugins make it:
    ``social_post.json`` from ``social_variants`` and an optional PNG in ``meta["image"]``."""

    @hookimpl
    def flywheel_session_types(self):
        return [SessionType("build", "test social posts", artifacts=("social_post",))]

    @hookimpl
    def flywheel_generate(self, session, ctx):
        text = session.get("overview", "A small change.")
        variants = social_variants(text, hashtags=session.get("hashtags", []))
        if session.get("only"):
            variants = {k: v for k, v in variants.items() if k in session.get("only")}
        attachments: dict[str, str | bytes] = {"social_post.json": json.dumps(variants, ensure_ascii=False) + "\n"}
        meta: dict[str, Any] = {"project": "demo"}
        for index in range(session.get("images", 0)):
            name = f"media/chart-{index}.png"
            attachments[name] = png(3 + index, 2)
            meta.setdefault("images", []).append({"src": name, "caption": f"Equity curve {index + 1}"})
        if session.get("images"):
            meta["image"] = "media/chart-0.png"
        return [Artifact("social_post", text + "\n", title="Social posts: demo", summary=text,
                         attachments=attachments, meta=meta)]


class Project:
    """A folder with flywheel.toml pointing at the fake server, session files, and ways to run flywheel."""

    def __init__(self, root: Path, host: Any, server: FakeMastodon) -> None:
        self.root = root
        self.host = host
        self.server = server
        self.config = root / "flywheel.toml"
        self.configure()

    def configure(self, **table: Any) -> None:
        settings = {"instance": self.server.url, "visibility": "unlisted", "language": "en", **table}
        lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
        self.config.write_text(
            'out_dir = "out"\nstate_dir = "state"\n[queue]\nbackoff_seconds = 0\nmax_attempts = 4\n'
            '[targets.mastodon]\ntoken = {"$env" = "MASTODON_TOKEN"}\n' + "\n".join(lines) + "\n",
            encoding="utf-8",
        )

    def session(self, overview: str, session_id: str = SESSION_ID, **fields: Any) -> Path:
        path = self.root / f"{session_id}.json"
        doc = build_session("build", session_id=session_id, overview=overview, **fields)
        path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        return path

    def cli(self, *args: Any):
        return run_cli([*map(str, args), "--config", self.config], host=self.host)

    def run(self, *sessions: Path):
        result = self.cli("run", *sessions)
        assert result.exit_code == 0, result.output
        return result

    def queue(self) -> list[dict[str, Any]]:
        result = self.cli("queue", "list", "--json")
        assert result.exit_code == 0, result.output
        return result.json()

    def variants(self, session_id: str = SESSION_ID) -> dict[str, list[str]]:
        [found] = (self.root / "out").rglob(f"{session_id}/social_post.json")
        return json.loads(found.read_text(encoding="utf-8"))

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        env = {**os.environ, "FLYWHEEL_LOAD_PLUGINS": "mastodon"}
        return subprocess.Popen([str(FLYWHEEL), *args, "--config", str(self.config)], cwd=self.root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(autouse=True)
def _only_mastodon(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other installed plugins (the real build plugin) must not change these tests.
    monkeypatch.setenv("FLYWHEEL_LOAD_PLUGINS", "mastodon")
    monkeypatch.setenv("MASTODON_TOKEN", TOKEN)


@pytest.fixture
def project(tmp_path: Path, flywheel_host, register_plugin, mastodon) -> Project:
    register_plugin(SocialGenerator(), name="social-gen")
    return Project(tmp_path, flywheel_host, mastodon)


@pytest.fixture
def long_text() -> str:
    """About 1,300 characters: a thread of three parts on Mastodon, of five on Bluesky."""
    return (
        "Rebuilt the publishing queue so that a crash at any point leaves nothing half-done. "
        "Every artifact now carries an idempotency key, and a retry after a lost answer finds the post "
        "already made instead of making a second one. Threads resume from the missing part. "
        "Images are uploaded first and the post waits until the server has processed them. "
        "Rate limits defer the entry instead of sleeping, so one busy account never blocks the rest. "
        "Read the whole story at https://example.org/blog/2025/12/02/exactly-once-publishing "
        "and tell us what broke for you. The next step is a second network, with the same guarantees "
        "and the same tests against a real server running on this machine. "
        "Along the way the command line learned to explain every failure in one line that names the "
        "file and the field, and the test suite grew a fake server that drops answers, refuses with "
        "rate limits and dies half-way through a thread, so that every one of these promises is checked "
        "on each change rather than hoped for. Thanks to everyone who reported duplicates."
    )
