"""A canary deploy token never shows up in what flywheel prints, logs or stores.

The token is configured as documented (``token = {"$env" = ...}``) for the web target, whose
git remote (HTTPS on 127.0.0.1) answers every request with an error that echoes the
``Authorization`` header it got, raw and decoded, as a hostile or careless server would.
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core_support import FLYWHEEL
from flywheel_core import redact
from flywheel_core.testing import build_session

CANARY = "fwcanary_Q7x/9+Zk=ab%cd"  # '/', '+', '=' and '%' so its URL-encoded form differs

BLOG = """
from flywheel_core import Artifact, SessionType, hookimpl

@hookimpl
def flywheel_session_types():
    return [SessionType("build", "test")]

@hookimpl
def flywheel_generate(session, ctx):
    return [Artifact("blog_post", "# Shipping\\n\\nIt shipped.\\n", title="Shipping", summary="It shipped.")]
"""


def _pkt(text: str) -> bytes:
    data = text.encode()
    return b"%04x" % (len(data) + 4) + data


class _EchoingRemote(BaseHTTPRequestHandler):
    """A smart-HTTP git remote that refuses everything, quoting the credentials it was sent."""

    seen: list[str]

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        value = self.headers.get("Authorization", "").split(" ", 1)[-1]
        self.seen.append(value)
        decoded = base64.b64decode(value + "==").decode(errors="replace") if value else ""
        body = (_pkt("# service=git-upload-pack\n") + b"0000"
                + _pkt(f"ERR access denied for {value} ({decoded})\n"))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-git-upload-pack-advertisement")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET


@pytest.fixture
def echoing_remote(tmp_path: Path):
    """An HTTPS server on 127.0.0.1 with a fresh self-signed certificate; yields (url, seen)."""
    if not shutil.which("openssl") or not shutil.which("git"):
        pytest.skip("needs openssl and git")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    seen: list[str] = []
    handler = type("Handler", (_EchoingRemote,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/site.git", seen
    server.shutdown()
    server.server_close()


def _forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        urllib.parse.quote(secret, safe=""),
        base64.b64encode(raw).decode(),
        base64.b64encode(b"x-access-token:" + raw).decode(),
        secret[4:-4],  # a part of it is a leak too
    ]


def test_the_canary_token_appears_nowhere(tmp_path: Path, fake_dist, echoing_remote) -> None:
    pytest.importorskip("flywheel_publish_web")
    url, seen = echoing_remote
    (tmp_path / "flywheel.toml").write_text(
        'out_dir = "out"\nstate_dir = "state"\n'
        '[targets.web]\nsite_dir = "public"\nbase_url = "https://example.org/"\n'
        f'deploy = {{ method = "git", remote = "{url}", token = {{ "$env" = "WEB_DEPLOY_TOKEN" }} }}\n'
    )
    (tmp_path / "sessions").mkdir()
    session = tmp_path / "sessions" / "s.json"
    session.write_text(json.dumps(build_session("build")))
    env = fake_dist("flywheel-blog", BLOG)
    env.update(FLYWHEEL_LOAD_PLUGINS="flywheel_blog,web", WEB_DEPLOY_TOKEN=CANARY, GIT_SSL_NO_VERIFY="1")
    env.pop("GITHUB_TOKEN", None)
    env.pop("FLYWHEEL_GITHUB_TOKEN", None)
    outputs = []
    for args in (["run", session], ["-v", "publish"], ["queue", "list"], ["queue", "list", "--json"]):
        proc = subprocess.run([FLYWHEEL, *args], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
        outputs.append(proc.stdout + proc.stderr)
    run, publish = outputs[:2]
    assert "queued for web" in run, run
    assert seen and base64.b64decode(seen[0]).decode() == f"x-access-token:{CANARY}", "the remote got the token"
    assert "access denied for ***" in publish, publish[-2000:]  # the echo came back, redacted
    assert "'token': '***'" in publish, "the -v hook trace shows the config table, redacted"
    stored = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and "site.git" not in p.parts}
    for form in _forms(CANARY):
        for text in outputs:
            assert form not in text, (form, text[-1000:])
        for path, data in stored.items():
            assert form.encode() not in data, (form, path)


def test_registered_secrets_are_redacted_in_every_form_they_travel_in() -> None:
    from flywheel_core import register_secret

    secret = "s3cr3t-Value/with+specials"
    register_secret(secret)
    for user in ("x-access-token", "git", "oauth2", ""):
        header = base64.b64encode(f"{user}:{secret}".encode()).decode()
        assert secret[2:-2] not in redact(header) and header not in redact(f"Basic {header}"), user
        core = base64.b64encode(f"{user}:{secret}".encode()).decode()[len(user) // 3 * 4 + 4 : -8]
        assert core not in redact(f"echo {header} end")
    assert redact(urllib.parse.quote(secret, safe="")) == "***"
    assert redact(json.dumps({"t": secret})) == '{"t": "***"}'
    assert redact("short") == "short", "values under 6 characters are not registered"
