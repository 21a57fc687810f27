"""Fixtures for the github target: real bare repositories, a smart-HTTP git server, a fake GitHub API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from flywheel_core.testing import build_session, run_cli

GIT = "/usr/bin/git"
FLYWHEEL = Path(sys.executable).parent / "flywheel"
ID_A = "sess-a-2025-12-02"
ID_B = "sess-b-2025-12-03"


#: A tiny generator plugin: a readme with an attachment (unless ``no_logo``) and a build log, from
#: ``overview``. ``log_logo``: the build log carries the same attachment (as a devlog and its
#: social post do). Source text, so subprocesses can load it as an installed distribution too.
GENERATOR = textwrap.dedent('''
    from flywheel_core import Artifact, SessionType, hookimpl

    @hookimpl
    def flywheel_session_types():
        return [SessionType("build", "test build", artifacts=("readme", "build_log"))]

    @hookimpl
    def flywheel_generate(session, ctx):
        text = session.get("overview", "nothing")
        shared = {"media/logo.svg": f"<svg><!-- {text} --></svg>\\n"}
        logo = {} if session.get("no_logo") else shared
        return [
            Artifact("readme", f"# {session.session_id}\\n\\n{text}\\n", title=f"Build {session.session_id}",
                     attachments=logo),
            Artifact("build_log", f"# Build log {session.session_id}\\n\\n- {text}\\n", title=f"Log {session.session_id}",
                     attachments=shared if session.get("log_logo") else {}),
        ]
''')


def Generator():  # noqa: N802 - used like the class it replaced
    module = types.ModuleType("flywheel_testgen")
    exec(compile(GENERATOR, "flywheel_testgen.py", "exec"), module.__dict__)
    return module


def git(*args: str, cwd: Path | None = None, check: bool = True) -> str:
    proc = subprocess.run(
        [GIT, "-c", "user.name=Other", "-c", "user.email=other@example.invalid", *args],
        cwd=cwd, capture_output=True, text=True, check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {proc.stderr}")
    return proc.stdout


@pytest.fixture(autouse=True)
def _only_github(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other installed plugins (a real build plugin) must not change these tests.
    monkeypatch.setenv("FLYWHEEL_LOAD_PLUGINS", "github")
    for name in ("GITHUB_TOKEN", "FLYWHEEL_GITHUB_TOKEN", "GH_TOKEN", "FLYWHEEL_TEST_CRASH_AT"):
        monkeypatch.delenv(name, raising=False)


class Workspace:
    """A project folder: flywheel.toml, session files, a bare remote, and ways to run flywheel on them."""

    def __init__(self, root: Path, host: Any) -> None:
        self.root = root
        self.host = host
        #: The PostgreSQL queue to use (None: SQLite in the state folder).
        self.queue_url: str | None = None
        self.remote = root / "remote.git"
        git("init", "--quiet", "--bare", "--initial-branch=main", str(self.remote))
        self.config = root / "flywheel.toml"
        self.configure()

    def configure(self, remote: str | None = None, queue: str = "", **github: Any) -> None:
        table = {"remote": remote or str(self.remote), **github}
        lines = [f"{k} = {json.dumps(v)}" for k, v in table.items()]
        queue = (f'url = "{self.queue_url}"\n' if self.queue_url else "") + queue
        self.config.write_text(
            'out_dir = "out"\nstate_dir = "state"\n' + (f"[queue]\n{queue}\n" if queue else "")
            + "[targets.github]\n" + "\n".join(lines) + "\n",
            encoding="utf-8",
        )

    def session(self, session_id: str = ID_A, overview: str = "first", **fields: Any) -> Path:
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

    def publish(self, *extra: str):
        return self.cli("publish", *extra)

    def queue(self) -> list[dict[str, Any]]:
        result = self.cli("queue", "list", "--json")
        assert result.exit_code == 0, result.output
        return result.json()

    def subprocess(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full = {**os.environ, **(env or {})}
        return subprocess.run([str(FLYWHEEL), *args, "--config", str(self.config)], capture_output=True, text=True,
                              env=full, cwd=self.root, check=False)

    git = staticmethod(git)

    def log(self, *paths: str, branch: str = "main") -> list[str]:
        out = git(f"--git-dir={self.remote}", "log", "--format=%H", branch, "--", *paths)
        return out.split()

    def show(self, path: str, branch: str = "main") -> bytes:
        return subprocess.run([GIT, f"--git-dir={self.remote}", "show", f"{branch}:{path}"], capture_output=True,
                              check=True).stdout

    def tree(self, branch: str = "main") -> list[str]:
        return git(f"--git-dir={self.remote}", "ls-tree", "-r", "--name-only", branch).split("\n")[:-1]


@pytest.fixture
def ws(tmp_path: Path, flywheel_host, register_plugin) -> Workspace:
    register_plugin(Generator(), name="gen")
    return Workspace(tmp_path, flywheel_host)


@pytest.fixture
def subprocess_env(tmp_path: Path) -> dict[str, str]:
    """An environment in which a ``flywheel`` subprocess loads the test generator (installed like a
    real distribution: a dist-info with an entry point) and the github target, nothing else."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "flywheel_testgen.py").write_text(GENERATOR, encoding="utf-8")
    info = site / "flywheel_testgen-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: flywheel-testgen\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[flywheel]\ngen = flywheel_testgen\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env["FLYWHEEL_LOAD_PLUGINS"] = "gen,github"
    return env


@pytest.fixture
def git_shim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Put a ``git`` wrapper first on PATH that logs every argv and can run a script before a push.

    Returns (argv log path, before-push script path). The script runs before the first N pushes,
    N read from ``<script>.count`` (default 1), so a second clone can push concurrently.
    """
    bin_dir = tmp_path / "shim-bin"
    bin_dir.mkdir()
    argv_log = tmp_path / "git-argv.log"
    script = tmp_path / "before-push.sh"
    (bin_dir / "git").write_text(textwrap.dedent(f"""\
        #!/bin/bash
        printf '%s\\n' "$*" >> {argv_log}
        for a in "$@"; do
          if [ "$a" = push ] && [ -f {script} ]; then
            n=$(cat {script}.count 2>/dev/null || echo 1)
            if [ "$n" -gt 0 ]; then echo $((n-1)) > {script}.count; bash {script}; fi
          fi
        done
        exec {GIT} "$@"
        """))
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return argv_log, script


class _GitHttp(BaseHTTPRequestHandler):
    """``git http-backend`` as CGI behind a token check (smart HTTP on 127.0.0.1)."""

    root: Path
    expected_auth: str
    seen_auth: list[str]

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def _cgi(self) -> None:
        auth = self.headers.get("Authorization", "")
        self.seen_auth.append(auth)
        if auth != self.expected_auth:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "tester", "REMOTE_ADDR": "127.0.0.1", "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        out = subprocess.run([GIT, "http-backend"], input=body, capture_output=True, env=env, check=False).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def git_http(tmp_path: Path):
    """Start a smart-HTTP git server for tmp_path/http-root; yield a function (repo, token) -> URL."""
    import base64

    root = tmp_path / "http-root"
    root.mkdir()
    seen: list[str] = []
    handler = type("Handler", (_GitHttp,), {"root": root, "expected_auth": "", "seen_auth": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(name: str, token: str) -> tuple[str, Path, list[str]]:
        handler.expected_auth = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
        repo = root / name
        git("init", "--quiet", "--bare", "--initial-branch=main", str(repo))
        git(f"--git-dir={repo}", "config", "http.receivepack", "true")
        return f"http://127.0.0.1:{server.server_address[1]}/{name}", repo, seen

    yield serve
    server.shutdown()
    server.server_close()
