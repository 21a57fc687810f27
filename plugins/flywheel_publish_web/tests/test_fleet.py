"""A fleet: machines with their own folders sharing one PostgreSQL queue, one git repository and one site.

Real processes throughout: ``flywheel run`` and ``flywheel worker`` on each machine, the github
target pushing to a bare repository, the web target deploying the site to a branch of another.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from flywheel_core.testing import QueueBackend, build_session

FLYWHEEL = Path(sys.executable).parent / "flywheel"

#: A session type of our own (installed like a real distribution): a blog post and a build log.
GENERATOR = textwrap.dedent('''
    from flywheel_core import Artifact, SessionType, hookimpl

    @hookimpl
    def flywheel_session_types():
        return [SessionType("notes", "fleet notes", artifacts=("blog_post", "build_log"))]

    @hookimpl
    def flywheel_generate(session, ctx):
        if session.session_type != "notes":
            return None
        title = str(session.get("title"))
        return [
            Artifact("blog_post", f"# {title}\\n\\nWritten on machine {session.get('machine')}.\\n", title=title,
                     summary=f"Notes from {session.get('machine')}.", tags=["fleet"]),
            Artifact("build_log", f"# Log of {title}\\n\\n- one step\\n", title=f"Log of {title}"),
        ]
''')

#: A producer of the soak: enqueues artifacts for both targets as fast as it can.
PRODUCER = textwrap.dedent('''
    import sys
    from pathlib import Path
    from flywheel_core.config import load_config
    from flywheel_core.plugins import get_host
    from flywheel_core.publishing import ArtifactVersion, enqueue_versions, open_queue

    config, host = load_config(Path(sys.argv[1])), get_host()
    first, last = int(sys.argv[2]), int(sys.argv[3])
    with open_queue(config) as queue:
        for i in range(first, last):
            sid = f"soak-{i:05}"
            body = f"# Post {i}\\n\\nOne of many.\\n".encode()
            meta = {"title": f"Post {i}", "summary": "", "tags": [], "draft": False, "kind": "blog_post", "ext": "md",
                    "date": f"2025-12-{1 + i % 28:02}T10:00:00Z", "session_id": sid, "session_type": "notes"}
            enqueue_versions(queue, host, session_id=sid, session_type="notes", targets=["github", "web"],
                             versions=[ArtifactVersion("blog_post", "md", {"blog_post.md": body}, meta)],
                             session_path=None)
''')


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


class Machine:
    """One machine of the fleet: its own working folder, state folder, site folder and sessions."""

    def __init__(self, root: Path, url: str, repo: Path, pages: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        root.mkdir(parents=True, exist_ok=True)
        self.config = root / "flywheel.toml"
        self.config.write_text(textwrap.dedent(f'''
            out_dir = "out"
            state_dir = "state"
            [queue]
            url = "{url}"
            backoff_seconds = 0
            [targets.github]
            remote = "{repo}"
            [targets.web]
            base_url = "https://fleet.example/"
            title = "The fleet"
            [targets.web.deploy]
            method = "git"
            remote = "{pages}"
            branch = "gh-pages"
        '''))

    def session(self, number: int) -> Path:
        sid = f"{self.root.name}-{number:03}"
        path = self.root / f"{sid}.json"
        doc = build_session("notes", session_id=sid, timestamp=f"2025-12-{1 + number % 28:02}T10:00:00Z",
                            title=f"{self.root.name} post {number}", machine=self.root.name)
        path.write_text(json.dumps(doc))
        return path

    def flywheel(self, *args: str, log: Path | None = None) -> subprocess.Popen[str]:
        """A flywheel process of this machine; ``log``: its output goes to that file (a long-running
        worker must not block on a full pipe nobody reads), else to pipes."""
        out = open(log, "w") if log else subprocess.PIPE  # noqa: SIM115 - the child holds it
        return subprocess.Popen([str(FLYWHEEL), *args, "--config", str(self.config)], env=self.env, cwd=self.root,
                                stdout=out, stderr=subprocess.STDOUT if log else subprocess.PIPE, text=True)


def _env(tmp_path: Path, plugins: str) -> dict[str, str]:
    """An environment whose flywheel loads the test generator (as an installed distribution) and ``plugins``."""
    site = tmp_path / "dists"
    site.mkdir(exist_ok=True)
    (site / "fleet_notes.py").write_text(GENERATOR)
    info = site / "fleet_notes-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fleet-notes\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[flywheel]\nnotes = fleet_notes\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env["FLYWHEEL_LOAD_PLUGINS"] = plugins
    env["FLYWHEEL_LOCK_TIMEOUT"] = "900"  # the site lock is waited for while other machines deploy
    return env


def _finish(proc: subprocess.Popen[str], what: str) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"{what} exited {proc.returncode}: {err[-3000:]}"
    return out


@pytest.fixture
def remotes(tmp_path: Path) -> tuple[Path, Path]:
    repo, pages = tmp_path / "repo.git", tmp_path / "pages.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(repo))
    git("init", "--quiet", "--bare", str(pages))
    return repo, pages


def test_two_machines_publish_to_one_repository_and_one_site(tmp_path: Path, postgres_url: str, remotes) -> None:
    repo, pages = remotes
    env = _env(tmp_path, "notes,github,web")
    machines = [Machine(tmp_path / name, postgres_url, repo, pages, env) for name in ("alpha", "beta")]
    sessions = {m.root.name: [m.session(n) for n in range(4)] for m in machines}
    # Both machines run their sessions and work the shared queue at the same time.
    for proc, m in [(m.flywheel("run", *map(str, sessions[m.root.name])), m) for m in machines]:
        _finish(proc, f"run on {m.root.name}")
    workers = [(m.flywheel("worker", "--once", "--concurrency", "2"), m) for m in machines]
    published = "".join(_finish(proc, f"worker on {m.root.name}") for proc, m in workers)
    assert published.count("published ") == 2 * 4 * 2 * 2, "every artifact once to each target, by one machine or the other"
    # The repository holds every artifact of both machines, each committed once.
    files = git(f"--git-dir={repo}", "ls-tree", "-r", "--name-only", "main").split()
    assert len(files) == 2 * 4 * 2
    touched = git(f"--git-dir={repo}", "log", "--name-only", "--format=", "main").split()
    assert sorted(touched) == sorted(files), "no file committed twice"
    # The site's branch shows every post of both machines, whichever machine deployed last.
    index = git(f"--git-dir={pages}", "show", "gh-pages:index.html")
    for name in ("alpha", "beta"):
        for n in range(4):
            assert f"{name} post {n}" in index
    site_files = git(f"--git-dir={pages}", "ls-tree", "-r", "--name-only", "gh-pages").split()
    posts = [f for f in site_files if f.startswith("notes/2025/12/") and f.endswith("/index.html")]
    assert len(posts) == 2 * 4 * 2, "a page per blog post and per build log of both machines"
    # Each machine's session files show the outcome, and either machine rebuilds the whole site.
    for m in machines:
        for path in sessions[m.root.name]:
            records = json.loads(path.read_text())["artifacts"]
            assert {r["status"] for r in records.values()} == {"published"}, path
            assert set(records["blog_post"]["published_to"]) == {"github", "web"}
        built = m.flywheel("site", "build")
        _finish(built, f"site build on {m.root.name}")
        local = (m.root / "site" / "index.html").read_text()
        assert all(f"{name} post 3" in local for name in ("alpha", "beta"))


def _soak(tmp_path: Path, url: str, remotes: tuple[Path, Path], *, workers: int, producers: int, artifacts: int,
          kills: int) -> dict[str, Any]:
    repo, pages = remotes
    env = _env(tmp_path, "github,web")
    machine = Machine(tmp_path / "soak", url, repo, pages, env)
    backend = QueueBackend("postgres", url)
    queue = backend.open(machine.root / "state")
    queue.storage.migrate()
    start = time.monotonic()
    share = -(-artifacts // producers)
    made = [subprocess.Popen([sys.executable, "-c", PRODUCER, str(machine.config), str(p * share),
                              str(min(artifacts, (p + 1) * share))], env=env, cwd=machine.root,
                             stderr=subprocess.PIPE, text=True) for p in range(producers)]
    logs = [tmp_path / f"worker-{w}.log" for w in range(workers)]
    running = [machine.flywheel("worker", "--concurrency", "1", log=logs[w]) for w in range(workers)]
    total = 2 * artifacts

    def published() -> int:
        return backend.sql(queue, "SELECT count(*) FROM items WHERE status = 'published'")[0][0]

    killed = []
    victims = random.Random(7).sample(range(workers), kills)
    while len(killed) < kills:  # SIGKILL workers mid-run, a while apart
        if published() >= total * (len(killed) + 1) // (kills + 2):
            proc = running[victims[len(killed)]]
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed.append(proc)
        time.sleep(0.1)
    for proc in made:
        _, err = proc.communicate(timeout=1800)
        assert proc.returncode == 0, err[-3000:]
    deadline = time.monotonic() + 3600
    while published() < total:
        assert time.monotonic() < deadline, "the fleet did not publish everything within an hour"
        assert any(p.poll() is None for p in running if p not in killed), "every worker stopped"
        time.sleep(0.2)
    seconds = time.monotonic() - start
    for proc in running:
        if proc not in killed:
            proc.send_signal(signal.SIGTERM)
    for proc, log in zip(running, logs):
        if proc not in killed:
            assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
            assert "worker stopped after" in log.read_text() and "Traceback" not in log.read_text()
    rows = backend.sql(queue, "SELECT target, session_id, status, lease_owner FROM items")
    assert len(rows) == total and {r[2] for r in rows} == {"published"}, "no row is stuck"
    assert all(r[3] is None for r in rows), "no lease is left behind"
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        (t, f"soak-{i:05}") for t in ("github", "web") for i in range(artifacts)), "one row per artifact and target"
    touched = git(f"--git-dir={repo}", "log", "--name-only", "--format=", "main").split()
    assert len(touched) == len(set(touched)) == artifacts, "every artifact committed exactly once"
    site_files = git(f"--git-dir={pages}", "ls-tree", "-r", "--name-only", "gh-pages").split()
    assert sum(f.startswith("notes/2025/12/post-") and f.count("/") == 4 and f.endswith("/index.html")
               for f in site_files) == artifacts, "a page per artifact on the site"
    queue.close()
    rate = total / seconds
    print(f"\nsoak: {artifacts} artifacts x 2 targets by {workers} workers ({kills} SIGKILLed) and {producers} "
          f"producers in {seconds:.1f} s: {rate:.1f} publications/s")
    return {"seconds": seconds, "rate": rate}


def test_a_short_soak_with_a_worker_killed(tmp_path: Path, postgres_url: str, remotes) -> None:
    _soak(tmp_path, postgres_url, remotes, workers=3, producers=4, artifacts=60, kills=1)


@pytest.mark.soak
def test_soak_8_workers_16_producers_5000_artifacts_two_killed(tmp_path: Path, postgres_url: str, remotes) -> None:
    _soak(tmp_path, postgres_url, remotes, workers=8, producers=16, artifacts=5000, kills=2)
