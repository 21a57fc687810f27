"""Crash loop and concurrency run against a real bare remote: nothing lost, duplicated, corrupted or silently dead.

``make soak`` runs the long versions (marked ``soak``); ``make test`` runs short ones. Each prints:
lost, duplicated, corrupted, dead-without-notice, tracebacks, internal errors, hangs.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from flywheel_core.testing import CRASH_POINTS, build_session

GIT = "/usr/bin/git"
FLYWHEEL = Path(sys.executable).parent / "flywheel"
#: The github target's own crash points, after the core ones.
GITHUB_POINTS = ("after_commit", "after_push")
RUN_POINTS = CRASH_POINTS + GITHUB_POINTS
PUBLISH_POINTS = tuple(p for p in RUN_POINTS if p not in ("after_write", "after_enqueue"))
HANG_SECONDS = 300  # a process still running after this long is a hang: killed and counted


def git(*args: str, check: bool = True) -> str:
    proc = subprocess.run([GIT, *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {proc.stderr}")
    return proc.stdout


@attrs.define
class Tally:
    """What a soak found; everything but the trial counts must stay zero."""

    trials: int = 0
    named_kills: int = 0
    random_kills: int = 0
    lost: int = 0
    duplicated: int = 0
    corrupted: int = 0
    dead_without_notice: int = 0
    tracebacks: int = 0
    internal_errors: int = 0
    hangs: int = 0
    problems: list[str] = attrs.field(factory=list)

    def note(self, counter: str, what: str) -> None:
        setattr(self, counter, getattr(self, counter) + 1)
        self.problems.append(f"{counter}: {what}")

    def line(self, name: str) -> str:
        return (f"{name}: {self.trials} trials ({self.named_kills} killed at named points, {self.random_kills} at "
                f"random points): lost {self.lost}, duplicated {self.duplicated}, corrupted {self.corrupted}, "
                f"dead-without-notice {self.dead_without_notice}, tracebacks {self.tracebacks}, "
                f"internal errors {self.internal_errors}, hangs {self.hangs}")

    def check(self, name: str) -> None:
        print("\n" + self.line(name))
        assert not self.problems, "\n".join(self.problems[:30])


class Project:
    """A project folder: sessions, a bare remote, flywheel.toml, and flywheel run as real processes."""

    def __init__(self, root: Path, env: dict[str, str], sessions: int) -> None:
        self.root = root
        self.env = env
        self.remote = root / "remote.git"
        git("init", "--quiet", "--bare", "--initial-branch=main", str(self.remote))
        self.config = root / "flywheel.toml"
        self.config.write_text(
            'out_dir = "out"\nstate_dir = "state"\n[queue]\nbackoff_seconds = 0\nbackoff_max_seconds = 0\n'
            f'[targets.github]\nremote = {json.dumps(str(self.remote))}\n', encoding="utf-8")
        self.sessions = []
        for i in range(sessions):
            path = root / f"s{i}.json"
            doc = build_session("build", session_id=f"soak-{i}", timestamp=f"2025-12-{i + 1:02d}T10:00:00Z",
                                overview="v0", log_logo=True)
            path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
            self.sessions.append(path)
        self.version = 0

    def new_version(self, path: Path) -> None:
        """Change a session's content (flywheel is not running), so its artifacts get a new version."""
        self.version += 1
        doc = json.loads(path.read_text())
        doc["overview"] = f"v{self.version}"
        tmp = path.with_suffix(".edit")
        tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        os.replace(tmp, path)

    def start(self, *args: str, crash_at: str | None = None) -> subprocess.Popen:
        env = dict(self.env)
        if crash_at:
            env["FLYWHEEL_TEST_CRASH_AT"] = crash_at
        return subprocess.Popen([str(FLYWHEEL), *args, "--config", str(self.config)], cwd=self.root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(self, proc: subprocess.Popen, tally: Tally, *, kill_after: float | None = None) -> tuple[int, str, str]:
        if kill_after is not None:
            try:
                proc.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
        try:
            out, err = proc.communicate(timeout=HANG_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            tally.note("hangs", f"{proc.args[1:-2]} ran more than {HANG_SECONDS} s")
        if "Traceback" in err:
            tally.note("tracebacks", err[-600:])
        if "internal error" in err:
            tally.note("internal_errors", err.strip().splitlines()[-1])
        return proc.returncode, out, err

    def drain(self, tally: Tally) -> tuple[int, str, str]:
        """Run every session and publish until nothing is left to do, as a person would after the storm."""
        code, _, err = self.finish(self.start("run", *map(str, self.sessions)), tally)
        if code != 0:
            tally.note("corrupted", f"the final run failed: {err.strip()[-400:]}")
        for _ in range(4):
            code, out, err = self.finish(self.start("publish"), tally)
            if code == 0 and out.strip() == "nothing is due":
                break
        return code, out, err

    def audit(self, tally: Tally, final: tuple[int, str, str]) -> None:
        """Count what the storm lost, duplicated, corrupted or left dead without a word."""
        code, _, err = final
        queue_path = self.root / "state" / "queue.sqlite3"
        db = sqlite3.connect(f"file:{queue_path}?mode=ro", uri=True)
        if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            tally.note("corrupted", "the queue database fails its integrity check")
        dead = [row[0] for row in db.execute("SELECT id FROM items WHERE status = 'dead'")]
        stuck = db.execute("SELECT COUNT(*) FROM items WHERE status IN ('queued', 'failed', 'publishing')").fetchone()[0]
        db.close()
        for entry_id in dead:
            if code == 0 or f"(entry {entry_id};" not in err:
                tally.note("dead_without_notice", f"entry {entry_id} is dead and publish did not say so")
        if stuck:
            tally.note("lost", f"{stuck} entries still pending after the drain")
        fsck = subprocess.run([GIT, f"--git-dir={self.remote}", "fsck", "--strict"], capture_output=True, text=True)
        if fsck.returncode != 0:
            tally.note("corrupted", f"git fsck: {fsck.stderr.strip()[:300]}")
        for path in self.sessions:
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                tally.note("corrupted", f"{path.name} is not JSON: {exc}")
                continue
            sid, date = doc["session_id"], doc["timestamp"][:10]
            for kind in ("readme", "build_log"):
                record = doc.get("artifacts", {}).get(kind) or {}
                made = self.root / "out" / "build" / sid / f"{kind}.md"
                where = f"sessions/build/{date}/{sid}/{kind}.md"
                shown = subprocess.run([GIT, f"--git-dir={self.remote}", "show", f"main:{where}"], capture_output=True)
                if shown.returncode != 0 or shown.stdout != made.read_bytes():
                    tally.note("lost", f"{where} is not the last version generated")
                if record.get("status") != "published" or "commit" not in record.get("published_to", {}).get("github", {}):
                    tally.note("corrupted", f"{path.name}: artifacts.{kind} says {record.get('status')!r}, "
                                            "not published with its commit")
        self._count_duplicates(tally)

    def _count_duplicates(self, tally: Tally) -> None:
        """A version (path, content) that entered the branch in more than one commit was published twice:
        versions here only ever move forward, so no content comes back legitimately."""
        files = git(f"--git-dir={self.remote}", "ls-tree", "-r", "--name-only", "main").split()
        for path in files:
            commits = git(f"--git-dir={self.remote}", "log", "--format=%H", "main", "--", path).split()
            blobs = [git(f"--git-dir={self.remote}", "rev-parse", f"{c}:{path}", check=False).strip() for c in commits]
            for blob in set(blobs):
                if blob and blobs.count(blob) > 1:
                    tally.note("duplicated", f"{path} content {blob[:12]} committed {blobs.count(blob)} times")


def crash_loop(project: Project, *, repeats: int, random_trials: int, seed: int) -> Tally:
    """Kill flywheel at every named crash point ``repeats`` times and at ``random_trials`` random
    moments, new versions of sessions coming in between; then drain and audit."""
    rng = random.Random(seed)
    tally = Tally()
    plan = [(point, None) for _ in range(repeats) for point in RUN_POINTS]
    plan += [(None, rng.uniform(0.05, 1.5)) for _ in range(random_trials)]
    rng.shuffle(plan)
    for point, delay in plan:
        tally.trials += 1
        changed = rng.choice(project.sessions)
        if point is not None or rng.random() < 0.5:
            project.new_version(changed)  # work for every step up to the push
        others = rng.sample(project.sessions, rng.randint(0, len(project.sessions) - 1))
        runs = [str(changed), *(str(p) for p in others if p != changed)]
        if point in PUBLISH_POINTS and rng.random() < 0.3:
            project.finish(project.start("run", *runs), tally)  # enqueued by a run that ends well,
            args = ["publish"]  # then a publisher is killed
        else:
            args = ["run", "--publish", *runs]
        code, _, _ = project.finish(project.start(*args, crash_at=point), tally, kill_after=delay)
        if code == -signal.SIGKILL:
            tally.named_kills += point is not None
            tally.random_kills += point is None
    project.audit(tally, project.drain(tally))
    return tally


def concurrency(project: Project, *, processes: int, rounds: int) -> Tally:
    """``processes`` flywheel processes at once on one session file and one queue (half ``run
    --publish``, half ``publish``), round after round with a new version in between."""
    tally = Tally()
    session = project.sessions[0]
    for _ in range(rounds):
        project.new_version(session)
        procs = [project.start(*(["run", "--publish", str(session)] if i % 2 == 0 else ["publish"]))
                 for i in range(processes)]
        for proc in procs:
            tally.trials += 1
            code, _, err = project.finish(proc, tally)
            if code != 0:
                tally.note("corrupted", f"a concurrent process exited {code}: {err.strip()[-300:]}")
    project.sessions = [session]
    project.audit(tally, project.drain(tally))
    return tally


def test_crash_loop_short(tmp_path: Path, subprocess_env) -> None:
    crash_loop(Project(tmp_path, subprocess_env, sessions=2), repeats=1, random_trials=3, seed=1).check(
        "crash loop (short)")


def test_concurrency_short(tmp_path: Path, subprocess_env) -> None:
    concurrency(Project(tmp_path, subprocess_env, sessions=1), processes=8, rounds=1).check("concurrency (short)")


@pytest.mark.soak
def test_crash_loop_soak(tmp_path: Path, subprocess_env) -> None:
    crash_loop(Project(tmp_path, subprocess_env, sessions=4), repeats=4, random_trials=40, seed=12).check(
        "crash loop")


@pytest.mark.soak
def test_concurrency_soak(tmp_path: Path, subprocess_env) -> None:
    concurrency(Project(tmp_path, subprocess_env, sessions=1), processes=50, rounds=3).check("concurrency")
