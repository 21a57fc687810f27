"""Fixtures for the build plugin's tests: real git repositories in tmp dirs and a host with only this plugin."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


class GitRepo:
    """A throwaway repository whose commits have fixed authors and dates."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def env(self, when: str, name: str, email: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email,
            GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when, GIT_CONFIG_NOSYSTEM="1",
        )
        return env

    def git(self, *args: str, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=self.path, env=env or self.env("2025-12-02T00:00:00Z", "T", "t@example.com"),
            input=input, capture_output=True, check=True,
        )
        return proc.stdout.decode("utf-8", "replace")

    def write(self, name: str, content: str | bytes) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")

    def commit(
        self,
        message: str,
        files: dict[str, str | bytes] | None = None,
        *,
        when: str = "2025-12-02T05:00:00Z",
        author: tuple[str, str] = ("Ann Example", "ann@example.com"),
        allow_empty: bool = False,
    ) -> str:
        for name, content in (files or {}).items():
            self.write(name, content)
        env = self.env(when, *author)
        self.git("add", "-A", env=env)
        args = ["commit", "-q", "--no-verify", "-F", "-"] + (["--allow-empty"] if allow_empty else [])
        self.git(*args, env=env, input=message.encode("utf-8"))
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def raw_commit(
        self,
        message: str,
        *,
        date: str = "1764651600 +0000",
        author: str = "Ann Example <ann@example.com>",
        parents: list[str] | None = None,
        files: dict[str, str] | None = None,
    ) -> str:
        """A commit object written byte for byte (``date`` as in the header, however odd, e.g.
        ``1234567890 +051800``), made HEAD. Git's own commands would refuse such headers;
        old tools wrote them and they live on in public histories."""
        for name, content in (files or {}).items():
            self.write(name, content)
        self.git("add", "-A")
        tree = self.git("write-tree").strip()
        if parents is None:
            head = subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=self.path, capture_output=True, text=True)
            parents = [head.stdout.strip()] if head.returncode == 0 else []
        lines = [f"tree {tree}", *(f"parent {p}" for p in parents), f"author {author} {date}".rstrip(),
                 f"committer {author} {date}".rstrip(), "", message]
        sha = self.git("hash-object", "--literally", "-t", "commit", "-w", "--stdin", input="\n".join(lines).encode()).strip()
        self.git("update-ref", "HEAD", sha)
        return sha


@pytest.fixture(autouse=True)
def own_git_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME: the user's ~/.gitconfig (its user.name, log and diff settings) must not
    change what these tests see."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM"):  # they would name another config
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def git_repo(tmp_path: Path):
    """``git_repo(name="repo")`` -> a fresh GitRepo under tmp_path."""

    def make(name: str = "repo") -> GitRepo:
        return GitRepo(tmp_path / name)

    return make


@pytest.fixture
def build_host(empty_host):
    """A host with only this plugin registered (other installed plugins cannot interfere)."""
    import flywheel_build.plugin

    empty_host.register(flywheel_build.plugin, name="build", distribution="flywheel-build", version="0")
    return empty_host


@pytest.fixture
def fw(build_host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run ``flywheel ARGS`` in-process against the build-only host, from tmp_path (no config)."""
    from flywheel_core.testing import run_cli

    monkeypatch.chdir(tmp_path)

    def invoke(*args: Any):
        return run_cli([str(a) for a in args], host=build_host)

    return invoke


@pytest.fixture
def run_session(fw, tmp_path: Path):
    """Write a session document next to tmp_path, ``flywheel run`` it, return (result, artifacts dict, session)."""

    def run(doc: dict[str, Any], name: str = "work_session.json", folder: Path | None = None):
        folder = folder or tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
        out = tmp_path / "out"
        result = fw("run", path, "-o", out)
        arts = {}
        folder_out = out / "build" / doc["session_id"]
        if folder_out.is_dir():
            arts = {p.name: p.read_bytes().decode("utf-8") for p in sorted(folder_out.iterdir())}
        return result, arts, json.loads(path.read_text(encoding="utf-8"))

    return run


def load_histories():
    """``build_histories`` (tests run with --import-mode=importlib: sibling modules are not importable)."""
    spec = importlib.util.spec_from_file_location("flywheel_build_histories", Path(__file__).with_name("build_histories.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="session")
def histories():
    """The realistic repositories of ``build_histories.py``: ``two_commit_repo(path)``, ``release_repo(path)``."""
    return load_histories()
