"""pytest fixtures for plugin authors (and flywheel's own tests).

Installed as a pytest plugin with flywheel-core, so these fixtures are available in any test
suite: ``flywheel_host``, ``register_plugin``, ``flywheel_cli``, ``make_session``,
``session_file``, and for the queue's backends ``queue_backend`` (each test twice: SQLite and
PostgreSQL), ``postgres_url`` and ``postgres_server``; and helpers to import (``__all__``): the
only module of flywheel_core besides its top level that a plugin's tests may import. Nothing here
touches the user's real config, cache or output folders.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import attrs
import pytest

from flywheel_core.publishing.queue import CRASH_ENV, CRASH_POINTS, PublicationQueue

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.models import Session
    from flywheel_core.plugins import PluginHost

__all__ = [
    "CRASH_ENV",
    "CRASH_POINTS",
    "POSTGRES_ENV",
    "CliResult",
    "QueueBackend",
    "TerminalResult",
    "as_session",
    "build_session",
    "check_golden",
    "check_posts_in_docs",
    "check_social_posts",
    "enqueue_artifacts",
    "local_paths",
    "numbers_in",
    "plugin_host",
    "run_cli",
    "run_on_terminal",
    "social_entities",
    "social_post_runner",
    "with_schema",
]

#: A PostgreSQL server URL (a superuser's) for the tests to use instead of starting their own.
POSTGRES_ENV = "FLYWHEEL_TEST_POSTGRES"


def build_session(session_type: str = "build", **fields: Any) -> dict[str, Any]:
    """A minimal valid session document of ``session_type``; ``fields`` override or add keys."""
    doc: dict[str, Any] = {
        "session_id": f"test-{session_type}-001",
        "session_type": session_type,
        "timestamp": "2025-12-02T05:20:00Z",
        "agent_id": "Agent-Test",
        "metadata": {},
        "source_data": {},
        "artifacts": {},
        "pipeline_status": {f"{session_type}_artifact": "pending"},
    }
    doc.update(fields)
    return doc


def as_session(doc: dict[str, Any]) -> Session:
    """The ``Session`` a plugin's hooks get for the session document ``doc`` (not validated):
    to call a plugin's functions directly, e.g. ``flywheel_generate(session=as_session(doc), ctx=...)``."""
    from flywheel_core.models import Session, converter

    return converter.structure(doc, Session)


def plugin_host(*installed: str, **plugins: Any) -> PluginHost:
    """A fresh plugin host holding the installed plugins named in ``installed`` (entry-point or
    distribution names; none when none is named) and each of ``plugins`` registered under its
    keyword: ``plugin_host("build", "web")``, ``plugin_host(build=flywheel_build.plugin)``. Pass
    it to :func:`run_cli` (``host=``) or to a ``RunContext``."""
    from flywheel_core.plugins import PluginHost

    host = PluginHost()
    if installed:
        before = os.environ.get("FLYWHEEL_LOAD_PLUGINS")
        os.environ["FLYWHEEL_LOAD_PLUGINS"] = ",".join(installed)
        try:
            host.load_entry_points()
        finally:
            if before is None:
                del os.environ["FLYWHEEL_LOAD_PLUGINS"]
            else:
                os.environ["FLYWHEEL_LOAD_PLUGINS"] = before
    for name, plugin in plugins.items():
        host.register(plugin, name=name, distribution=name, version="0")
    return host


@attrs.define
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(args: list[str], host: Any | None = None) -> CliResult:
    """Run ``flywheel ARGS`` in-process against ``host`` (default: the entry-point host)."""
    from flywheel_core import cli
    from flywheel_core.plugins import reset_host

    out, err = io.StringIO(), io.StringIO()
    if host is not None:
        reset_host(host)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        if host is not None:
            reset_host(None)
    return CliResult(code, out.getvalue(), err.getvalue())


@attrs.define
class TerminalResult:
    exit_code: int
    stdout: str
    terminal: str  #: everything written to stderr, a pseudo-terminal, escape sequences included


def run_on_terminal(
    args: list[Any], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120.0
) -> TerminalResult:
    """Run a command with stderr on a real pseudo-terminal (100x30) and stdout on a pipe.

    What a person at a terminal sees arrives in ``terminal``; ``stdout`` is what a pipe gets.
    To see what happens when nothing is a terminal, use ``subprocess.run(capture_output=True)``.
    """
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import termios
    import threading
    import time

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    try:
        proc = subprocess.Popen([str(a) for a in args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=slave, env=env, cwd=cwd)
    finally:
        os.close(slave)
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    seen: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.1)[0]:
                if proc.poll() is not None and not select.select([master], [], [], 0.1)[0]:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal has closed it
                break
            if not data:
                break
            seen.append(data)
        else:
            proc.kill()
            raise TimeoutError(f"{args} still running after {timeout} s")
    finally:
        os.close(master)
    code = proc.wait(timeout=timeout)
    reader.join(timeout)
    return TerminalResult(code, b"".join(out).decode("utf-8", "replace"), b"".join(seen).decode("utf-8", "replace"))


@pytest.fixture(autouse=True)
def _flywheel_isolation(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep lock files in a temp cache folder, ignore the user's own config, start each test with a fresh host."""
    from flywheel_core.plugins import reset_host

    cache = tmp_path_factory.mktemp("flywheel-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("flywheel-user-config")))
    monkeypatch.delenv("FLYWHEEL_CONFIG", raising=False)
    reset_host(None)
    yield
    reset_host(None)


@pytest.fixture
def flywheel_host():
    """A fresh PluginHost with the installed entry points loaded (honours FLYWHEEL_LOAD_PLUGINS)."""
    from flywheel_core.plugins import PluginHost

    host = PluginHost()
    host.load_entry_points()
    return host


@pytest.fixture
def empty_host():
    """A PluginHost with no plugins at all."""
    from flywheel_core.plugins import PluginHost

    return PluginHost()


@pytest.fixture
def register_plugin(flywheel_host) -> Callable[..., Any]:
    """Register a plugin object on ``flywheel_host`` for one test: ``register_plugin(obj, name=...)``."""

    def register(plugin: Any, name: str = "test-plugin") -> Any:
        flywheel_host.register(plugin, name=name, distribution=name, version="0")
        return plugin

    return register


@pytest.fixture
def flywheel_cli(flywheel_host) -> Callable[..., CliResult]:
    """Run the CLI in-process against ``flywheel_host``: ``flywheel_cli("run", path)``."""

    def invoke(*args: Any) -> CliResult:
        return run_cli(list(args), host=flywheel_host)

    return invoke


@pytest.fixture
def make_session() -> Callable[..., dict[str, Any]]:
    """Build a minimal valid session dict: ``make_session("trade", source_data={...})``."""
    return build_session


@pytest.fixture
def session_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a session dict to a file in tmp_path and return its path."""

    def write(doc: dict[str, Any] | str, name: str = "work_session.json") -> Path:
        path = tmp_path / name
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2), encoding="utf-8")
        return path

    return write


# What each network turns into a mention, hashtag, cashtag or link when a post is sent: the
# patterns of twitter-text (X), Mastodon's account and tag patterns (Mastodon links only URLs
# with a scheme) and the Bluesky app's facet detection, as published by each project.
_ENTITY_PATTERNS = {
    "x": {
        "mention": r"(?:^|[^a-zA-Z0-9_!#$%&*@＠])[@＠]([a-zA-Z0-9_]{1,20})",
        "hashtag": r"(?:^|[^&\p{L}\p{M}\p{Nd}_])[#＃](?!\ufe0f|\u20e3)([\p{L}\p{M}\p{Nd}_\u200c\u200d]*[\p{L}\p{M}][\p{L}\p{M}\p{Nd}_\u200c\u200d]*)",
        "cashtag": r"(?:^|\s)[$＄]([a-z]{1,6}(?:[._][a-z]{1,2})?)(?=$|\s|\p{P})",
    },
    "mastodon": {
        "mention": r"(?<![=/\w])@(([a-z0-9_]+)(?:@[\w.-]+\w)?)",
        "hashtag": r"(?:^|[^/)\w])#(\w*[\p{L}_·]\w*)",
        "link": r"https?://\S+",
    },
    "bluesky": {
        "mention": r"(?:^|\s|\()@([a-zA-Z0-9.-]+)\b",
        "hashtag": r"(?:^|\s)[#＃]((?!\ufe0f)[^\s\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2]*[^\d\s\p{P}\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2]+[^\s\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2]*)",
        "link": r"(?:^|\s|\()((?:https?://\S+)|(?:[a-z][a-z0-9]*(?:\.[a-z0-9]+)+\S*))",
    },
    # LinkedIn links URLs and bare domains; a few common top-level domains stand for all.
    "linkedin": {"link": r"(?:^|\s|\()(https?://\S+|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|md|py|dev|co|ai|app)\b\S*)"},
}


def social_entities(post: str, network: str) -> dict[str, list[str]]:
    """The mentions, hashtags, cashtags and links ``network`` would make of ``post``: a test
    checks that session text made none it did not mean (``defang``). X's links come from
    twitter-text itself, which also links bare domains such as ``README.md``."""
    import regex

    found = {
        kind: [m.group(1) if m.groups() else m.group(0) for m in regex.finditer(pattern, post, regex.I)]
        for kind, pattern in _ENTITY_PATTERNS[network].items()
    }
    if network == "x":
        from flywheel_core.social import _parse_tweet

        _parse_tweet()  # loads twitter-text (and lends it pkg_resources)
        from twitter_text.extract_urls import extract_urls

        found["link"] = extract_urls(post)
    return {kind: [e.strip() for e in entities] for kind, entities in found.items() if entities}


def local_paths(canary: str) -> list[str]:
    """Absolute local paths of every system, each holding ``canary``: POSIX homes and roots,
    Windows drives, UNC shares, ``~`` and ``file:`` URLs. Plant them in a session to prove that
    no local path reaches an artifact (then look for ``canary`` in what was written)."""
    return [
        f"D:/games/{canary}/SpaceExplorer",
        f"C:\\Users\\{canary}\\Desktop\\shot.png",
        f"\\\\{canary}-server\\share\\notes.txt",
        f"//{canary}-server/share/notes.txt",
        f"\\\\?\\UNC\\{canary}-server\\share\\notes.txt",  # Win32's long-path forms
        f"\\\\?\\C:\\Users\\{canary}\\Desktop\\shot.png",
        f"/home/{canary}/projects/garden/index.html",
        f"/Users/{canary}/Pictures/a.png",
        f"~/{canary}/notes.md",
        f"~{canary}/notes.md",
        f"file:///home/{canary}/x.html",
        f"FILE://{canary}-host/share/y.html",
        f"/root/{canary}/y",
        f"/home/{canary}",
        f"/srv/{canary}/data.csv",
    ]


def numbers_in(text: str) -> set[str]:
    """The numbers written in ``text`` (``1,234.50`` is one), for "no number from nowhere" checks."""
    import re

    return set(re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", text))


def check_social_posts(variants: dict[str, list[str]], *, link: str | None, numbers: set[str] | None = None,
                       alike: frozenset[str] | set[str] = frozenset()) -> None:
    """Assert what every session type's ``social_post.json`` must hold: a post for each network,
    no two alike, each part within its network's limit, ``link`` in each network's post exactly
    once (or no link at all when None), no mention or cashtag and no other link made from session
    text, and, when ``numbers`` is given, no number outside it (the link and the hashtag line aside).
    ``alike``: networks whose posts may be the same, for a session that gives nothing more to say
    than fits the shortest of them (padding a post to make it differ says nothing)."""
    import itertools
    import re

    from flywheel_core.social import LIMITS, PLATFORMS, post_length

    assert set(variants) == set(PLATFORMS), sorted(variants)
    for a, b in itertools.combinations(PLATFORMS, 2):
        assert variants[a] != variants[b] or {a, b} <= alike, f"{a} and {b} got the same post"
    for network, posts in variants.items():
        assert posts and all(p.strip() for p in posts), network
        for post in posts:
            assert post_length(post, network) <= LIMITS[network], (network, post)
            entities = social_entities(post, network)
            assert not entities.get("mention") and not entities.get("cashtag"), (network, entities)
            assert set(entities.get("link", [])) <= ({link} if link else set()), (network, entities)
        text = "\n".join(posts)
        if link:
            assert text.count(link) == 1, f"{network}: the link {link} is not there exactly once"
        else:
            assert "http" not in text, f"{network}: a link without a page to link to"
        if numbers is not None:
            prose = re.sub(r"(?m)^#.*$", "", text.replace(link, "") if link else text)
            assert numbers_in(prose) <= numbers, (network, sorted(numbers_in(prose) - numbers))


def social_post_runner(tmp_path: Path, plugin: str) -> Callable[..., tuple[dict[str, list[str]], str, dict[str, Any]]]:
    """``run(doc, config="", *extra)``: ``flywheel run --json`` of ``doc`` (a session dict, or a
    session file's path) in ``tmp_path`` with the installed plugin ``plugin`` and the real web
    target (it gives the posts their link), under ``config`` (a flywheel.toml's text) and the
    options ``extra``. Asserts the run exits 0; returns (``social_post.json``,
    ``social_post.md``, the run's JSON record). Skips the test without flywheel-publish-web."""
    pytest.importorskip("flywheel_publish_web", reason="the web target (flywheel-publish-web) gives the link")
    host = plugin_host(plugin, "web")

    def run(doc: dict[str, Any] | Path, config: str = "", *extra: str) -> tuple[dict[str, list[str]], str, dict[str, Any]]:
        doc = json.loads(doc.read_text(encoding="utf-8")) if isinstance(doc, Path) else doc
        (tmp_path / "flywheel.toml").write_text(config, encoding="utf-8")
        path = tmp_path / "work_session.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        result = run_cli(["run", "--json", "--config", tmp_path / "flywheel.toml", "--out", tmp_path / "out",
                          *extra, path], host=host)
        assert result.exit_code == 0, result.output
        folder = tmp_path / "out" / doc["session_type"] / doc["session_id"]
        variants = json.loads((folder / "social_post.json").read_text(encoding="utf-8"))
        return variants, (folder / "social_post.md").read_text(encoding="utf-8"), result.json()[0]

    return run


def check_posts_in_docs(posts: Path, docs: Path, heading: str) -> None:
    """Assert that every part of every network's post in ``posts`` (a ``social_post.json``) is
    shown in ``docs`` (a Markdown file such as docs/examples.md) as a ``text`` block, after the
    line ``heading`` (``## Build session``)."""
    shown = json.loads(posts.read_text(encoding="utf-8"))
    text = docs.read_text(encoding="utf-8")
    section = text[text.index(heading):]
    for network, parts in shown.items():
        for part in parts:
            assert f"```text\n{part}\n```" in section, f"{docs.name} lacks the {network} post"


def check_golden(path: Path, text: str) -> None:
    """Assert ``text`` is the golden file ``path``; with ``FLYWHEEL_UPDATE_GOLDEN=1`` write it
    there instead (then read the diff before committing)."""
    if os.environ.get("FLYWHEEL_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs from tests/golden/{path.name}"


# -- the queue's backends ------------------------------------------------------------------------


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``search_path`` set to ``schema``: a queue of its own in a shared database."""
    from urllib.parse import quote

    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-c search_path={schema}')}"


@attrs.define
class QueueBackend:
    """Where a test's queue lives: ``name`` is ``sqlite`` or ``postgres`` (then ``url`` is set)."""

    name: str
    url: str | None = None

    @property
    def toml(self) -> str:
        """The lines of a ``[queue]`` table that choose this backend."""
        return f'url = "{self.url}"\n' if self.url else ""

    def open(self, state_dir: Path, settings: dict[str, Any] | None = None) -> PublicationQueue:
        """A queue on this backend, its blob cache (or folder) and SQLite file in ``state_dir``."""
        from flywheel_core.config import Config

        data = {"state_dir": str(state_dir), "queue": {**(settings or {}), **({"url": self.url} if self.url else {})}}
        from flywheel_core.publishing import open_queue

        return open_queue(Config(Path(state_dir).parent, data=data))

    def sql(self, queue: PublicationQueue, statement: str, *args: Any) -> list[tuple]:
        """Run raw SQL on a queue's database (``?`` placeholders) to arrange a state a test needs."""
        if self.url is None:
            return queue.storage.db.execute(statement, args).fetchall()
        return queue.storage.execute(statement.replace("?", "%s"), args)


def enqueue_artifacts(config: Config, artifacts: Iterable[tuple[dict[str, Any], dict[str, bytes]]], *,
                      targets: list[str]) -> int:
    """Put artifacts straight into ``config``'s publication queue for ``targets``, skipping the run
    that would generate them: for tests that need many queue entries fast (a soak's producers).
    Each artifact is ``(meta, files)``: ``meta`` as targets are told it (``kind``, ``ext``,
    ``session_id`` and ``session_type`` required; title, summary, tags, draft, date...), ``files``
    the main file ``<kind>.<ext>`` and any attachment by name. Returns how many entries it made."""
    from flywheel_core.plugins import get_host
    from flywheel_core.publishing import ArtifactVersion, enqueue_versions, open_queue

    made = 0
    with open_queue(config) as queue:
        for meta, files in artifacts:
            version = ArtifactVersion(meta["kind"], meta["ext"], files, meta)
            made += len(enqueue_versions(queue, get_host(), session_id=meta["session_id"],
                                         session_type=meta["session_type"], targets=targets,
                                         versions=[version], session_path=None))
    return made


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL superuser's URL for the whole test session: ``$FLYWHEEL_TEST_POSTGRES``, else a
    throwaway server started now (``initdb`` in a temp folder) and stopped at the end. A test
    needing it fails, saying why, when no server can be started."""
    if os.environ.get(POSTGRES_ENV):
        yield os.environ[POSTGRES_ENV]
        return
    from flywheel_core.throwaway_postgres import PostgresUnavailable, ThrowawayPostgres

    server = ThrowawayPostgres()
    try:
        server.start()
    except PostgresUnavailable as exc:
        server.stop()
        pytest.fail(f"this test needs PostgreSQL, which could not be started: {exc}", pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A URL of ``postgres_server`` whose queue is a new, empty schema: one per test."""
    from flywheel_core.publishing.postgres import admin_execute

    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin_execute(postgres_server, f"CREATE SCHEMA {schema}")
    return with_schema(postgres_server, schema)


@pytest.fixture(params=["sqlite", "postgres"])
def queue_backend(request: pytest.FixtureRequest) -> QueueBackend:
    """Each test that asks for it runs twice: on the embedded SQLite queue and on PostgreSQL."""
    if request.param == "sqlite":
        return QueueBackend("sqlite")
    return QueueBackend("postgres", request.getfixturevalue("postgres_url"))
