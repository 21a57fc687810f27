"""The canary: a token per target, set in the environment, is found nowhere after a full run with failures and retries.

Four targets publish one real build session: github (smart-HTTP git on 127.0.0.1), the web
site's git deploy (the same over HTTPS), Mastodon and Bluesky (fake servers speaking their
APIs). Every server first answers with an error that quotes the credentials it was sent (a
hostile or careless server); flywheel fails, backs off, is told to retry, and publishes. Then
no form of any token may be in a file under the project (state, queue, blobs, session files,
output, site, the remotes' objects), in flywheel's output at debug level, in the arguments of
any process seen while publishing (``/proc/*/cmdline``), in the queue's JSON, or in anything
the servers were sent to publish.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import ssl
import string
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core_support import EXAMPLES, FLYWHEEL

for _plugin in ("flywheel_build", "flywheel_publish_github", "flywheel_publish_web", "flywheel_publish_mastodon",
                "flywheel_publish_bluesky"):
    pytest.importorskip(_plugin)

GIT = shutil.which("git") or "/usr/bin/git"
_RNG = secrets.SystemRandom()


def _token(prefix: str, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return prefix + "".join(_RNG.choice(alphabet) for _ in range(n))


TOKENS = {
    "GH_CANARY": _token("ghp_", 36),
    "WEB_CANARY": _token("webdeploy/", 20) + "+=%",  # '/', '+', '=', '%': its encoded forms differ
    "MASTODON_CANARY": _token("", 43, string.ascii_letters + string.digits + "-_"),
    "BSKY_CANARY": "-".join(_token("", 4, string.ascii_lowercase) for _ in range(4)),
}


def forms(secret: str) -> list[str]:
    """Every shape a token travels in, and a part of it (a part is a leak too)."""
    raw = secret.encode()
    return [
        secret,
        urllib.parse.quote(secret, safe=""),
        json.dumps(secret)[1:-1],
        base64.b64encode(raw).decode(),
        base64.b64encode(b"x-access-token:" + raw).decode(),
        secret[len(secret) // 2 - 6: len(secret) // 2 + 6],
    ]


def _pkt(text: str) -> bytes:
    data = text.encode()
    return b"%04x" % (len(data) + 4) + data


class _GitRemote(BaseHTTPRequestHandler):
    """``git http-backend`` behind a token check; the first ``faults`` requests are refused with
    an error quoting the credentials they carried, raw and decoded."""

    root: Path
    expected: str
    faults: list[int]
    seen: list[str]

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_GET

    def _serve(self) -> None:
        auth = self.headers.get("Authorization", "")
        self.seen.append(auth)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.faults[0] > 0:
            self.faults[0] -= 1
            value = auth.split(" ", 1)[-1]
            decoded = base64.b64decode(value + "==").decode(errors="replace") if value else ""
            payload = _pkt("# service=git-upload-pack\n") + b"0000" + _pkt(f"ERR access denied for {auth} ({decoded})\n")
            self._reply(200, payload, [("Content-Type", "application/x-git-upload-pack-advertisement")])
            return
        if auth != self.expected:
            self._reply(401, b"", [("WWW-Authenticate", 'Basic realm="test"')])
            return
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "tester", "REMOTE_ADDR": "127.0.0.1", "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        out = subprocess.run([GIT, "http-backend"], input=body, capture_output=True, env=env, check=False).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self._reply(status, payload, headers)

    def _reply(self, status: int, payload: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Social(BaseHTTPRequestHandler):
    """Mastodon's and Bluesky's APIs, as much as the two targets use; the first call of each
    kind fails with a 500 that quotes the request's credentials (and a login's password)."""

    failed: set[str]
    requests: list[dict[str, Any]]
    statuses: list[dict[str, Any]]

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_GET

    def _serve(self) -> None:
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.requests.append({"path": path, "auth": self.headers.get("Authorization", ""), "body": body})
        kind = f"{self.command} {path.rsplit('/', 1)[0] if path.startswith('/api/v1/media/') else path}"
        if self.command == "POST" and kind not in self.failed:
            self.failed.add(kind)
            echo = f"failed for {self.headers.get('Authorization', '')}: {body[:300].decode(errors='replace')}"
            self._json(500, {"error": echo, "message": echo})
            return
        self._json(*self._route(path, body))

    def _route(self, path: str, body: bytes) -> tuple[int, Any]:
        base = f"http://{self.headers['Host']}"
        if path == "/xrpc/com.atproto.server.createSession":
            return 200, {"accessJwt": "access-" + secrets.token_hex(8), "refreshJwt": "refresh-" + secrets.token_hex(8),
                         "did": "did:plc:canarytest", "handle": "you.test"}
        if path == "/xrpc/com.atproto.repo.putRecord":
            rkey = json.loads(body)["rkey"]
            return 200, {"uri": f"at://did:plc:canarytest/app.bsky.feed.post/{rkey}", "cid": "bafyrei" + "a" * 52}
        if path == "/xrpc/com.atproto.repo.uploadBlob":
            return 200, {"blob": {"$type": "blob", "ref": {"$link": "bafkrei" + "b" * 52},
                                  "mimeType": self.headers.get("Content-Type"), "size": len(body)}}
        if path == "/xrpc/com.atproto.identity.resolveHandle":
            return 400, {"error": "InvalidRequest", "message": "Unable to resolve handle"}
        if path == "/api/v1/accounts/verify_credentials":
            return 200, {"id": "1", "username": "you", "acct": "you"}
        if path == "/api/v1/accounts/1/statuses":
            return 200, list(reversed(self.statuses))
        if path.startswith("/api/v1/statuses/") and path.endswith("/source"):
            found = next(s for s in self.statuses if s["id"] == path.split("/")[4])
            return 200, {"id": found["id"], "text": found["text"], "spoiler_text": ""}
        if path == "/api/v2/media" or path.startswith("/api/v1/media/"):
            return 200, {"id": "7", "type": "image", "url": f"{base}/media/7.png", "description": ""}
        if path == "/api/v1/statuses":
            form = urllib.parse.parse_qs(body.decode())
            status = {"id": str(len(self.statuses) + 100), "text": form.get("status", [""])[0],
                      "url": f"{base}/@you/{len(self.statuses) + 100}", "uri": f"{base}/s/{len(self.statuses) + 100}",
                      "in_reply_to_id": form.get("in_reply_to_id", [None])[0], "created_at": "2025-12-02T05:20:00Z"}
            self.statuses.append(status)
            return 200, {**status, "content": f"<p>{status['text']}</p>"}
        return 404, {"error": "Record not found"}

    def _json(self, status: int, data: Any) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _serve(handler: type, tls: tuple[Path, Path] | None = None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls[1], tls[0])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _bare(path: Path) -> Path:
    subprocess.run([GIT, "init", "-q", "--bare", "--initial-branch=main", str(path)], check=True)
    subprocess.run([GIT, f"--git-dir={path}", "config", "http.receivepack", "true"], check=True)
    return path


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()


class _Sampler(threading.Thread):
    """Reads every process's arguments (``/proc/*/cmdline``) again and again until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: set[bytes] = set()
        self.rounds = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    self.seen.add(Path(f"/proc/{pid}/cmdline").read_bytes())
                except OSError:
                    pass  # gone already
            self.rounds += 1
            time.sleep(0.005)


def _objects(repo: Path) -> bytes:
    """Every object of a repository, decompressed (a token would hide in zlib otherwise)."""
    return subprocess.run([GIT, "--git-dir", str(repo), "cat-file", "--batch-all-objects", "--batch"],
                          capture_output=True, check=True).stdout


def test_no_target_token_is_found_anywhere(tmp_path: Path) -> None:
    if not shutil.which("openssl"):
        pytest.skip("needs openssl for the HTTPS remote")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    servers = tmp_path / "servers"
    servers.mkdir()
    sessions = _bare(servers / "sessions.git")
    site = _bare(servers / "site.git")
    git_seen: list[str] = []
    github = _serve(type("GitHub", (_GitRemote,), {"root": servers, "expected": _basic(TOKENS["GH_CANARY"]),
                                                   "faults": [2], "seen": git_seen}))
    pages = _serve(type("Pages", (_GitRemote,), {"root": servers, "expected": _basic(TOKENS["WEB_CANARY"]),
                                                 "faults": [2], "seen": git_seen}), tls=(key, cert))
    social_requests: list[dict[str, Any]] = []
    social = _serve(type("Social", (_Social,), {"failed": set(), "requests": social_requests, "statuses": []}))
    project = tmp_path / "project"
    project.mkdir()
    (project / "build_session.json").write_bytes((EXAMPLES / "build_session.json").read_bytes())
    social_url = f"http://127.0.0.1:{social.server_address[1]}"
    (project / "flywheel.toml").write_text(
        'out_dir = "out"\nstate_dir = "state"\n[queue]\nbackoff_seconds = 0\n'
        f'[targets.github]\nremote = "http://127.0.0.1:{github.server_address[1]}/sessions.git"\n'
        'token = {"$env" = "GH_CANARY"}\ntimeout = 60\n'
        '[targets.web]\nsite_dir = "site"\nbase_url = "https://example.org/"\n'
        f'deploy = {{method = "git", remote = "https://127.0.0.1:{pages.server_address[1]}/site.git", '
        'token = {"$env" = "WEB_CANARY"}}\n'
        f'[targets.mastodon]\ninstance = "{social_url}"\ntoken = {{"$env" = "MASTODON_CANARY"}}\n'
        'media_wait_seconds = 1\n'
        f'[targets.bluesky]\nservice = "{social_url}"\nhandle = "you.test"\n'
        'app_password = {"$env" = "BSKY_CANARY"}\nlink_card = false\n')
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FLYWHEEL_GITHUB_TOKEN", "GH_TOKEN")}
    env.update(TOKENS, FLYWHEEL_LOAD_PLUGINS="build,github,web,mastodon,bluesky", GIT_SSL_NO_VERIFY="1")
    outputs: list[str] = []

    def flywheel(*args: str) -> int:
        sampler = _Sampler()
        sampler.start()
        proc = subprocess.Popen([str(FLYWHEEL), "-v", *args], cwd=project, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=600)
        sampler.stop.set()
        sampler.join()
        outputs.append(out + err)
        argv.update(sampler.seen)
        return proc.returncode

    argv: set[bytes] = set()
    try:
        assert flywheel("run", "build_session.json") == 0, outputs[-1][-3000:]
        codes = [flywheel("publish")]
        while codes[-1] != 0 and len(codes) < 6:
            flywheel("queue", "retry", "--failed")
            codes.append(flywheel("publish"))
        flywheel("queue", "list", "--json")
    finally:
        for server in (github, pages, social):
            server.shutdown()
            server.server_close()
    assert codes[0] == 1 and codes[-1] == 0, outputs[-1][-3000:]
    entries = json.loads(outputs[-1][:outputs[-1].rindex("]") + 1])
    assert {e["target"] for e in entries} == {"github", "web", "mastodon", "bluesky"}
    assert all(e["status"] == "published" for e in entries), [(e["target"], e["status"]) for e in entries]
    log = "\n".join(outputs)
    assert "access denied for Basic *** (x-access-token:***)" in log and "flywheel: DEBUG" in log, "the echoes came back, redacted, at debug level"
    assert _basic(TOKENS["GH_CANARY"]) in git_seen and _basic(TOKENS["WEB_CANARY"]) in git_seen, "the remotes got them"
    sent = {r["auth"] for r in social_requests}
    assert f"Bearer {TOKENS['MASTODON_CANARY']}" in sent
    assert any(TOKENS["BSKY_CANARY"].encode() in r["body"] for r in social_requests), "the PDS got the app password"

    published = [r["body"] for r in social_requests if r["path"] in ("/api/v1/statuses", "/xrpc/com.atproto.repo.putRecord")]
    stored = {str(p): p.read_bytes() for root in (project, Path(env["XDG_CACHE_HOME"]), Path(env["XDG_CONFIG_HOME"]))
              for p in root.rglob("*") if p.is_file()}
    stored.update({"sessions.git objects": _objects(sessions), "site.git objects": _objects(site)})
    leaks = []
    for name, token in TOKENS.items():
        for form in forms(token):
            leaks += [f"{name} in output {i}" for i, text in enumerate(outputs) if form in text]
            leaks += [f"{name} in {path}" for path, data in stored.items() if form.encode() in data]
            leaks += [f"{name} in a process's arguments" for a in argv if form.encode() in a]
            leaks += [f"{name} in a published post" for body in published if form.encode() in body]
    assert leaks == [], sorted(set(leaks))
    helpers = sum(1 for a in argv if b"git-core/git" in a and b"127.0.0.1" in a)
    print(f"\ncanary: 4 tokens, {len(codes)} publishes (exit codes {codes}), {len(stored)} files and "
          f"{len(argv)} process command lines ({helpers} of git talking to the remotes) checked; no form of any "
          "token found")
