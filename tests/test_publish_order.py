"""A social post waits for the page it links to: published after it, never while it fails, is dead or held.

The real thing end to end: a plugin whose session makes a page (``story``) and a social post
linking to it (``compose_social``), a target ``site`` that puts pages on an HTTP server on
127.0.0.1 and a target ``town`` that posts to the same server, which records for every post
whether the page it links to was there when it came. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core_support import FLYWHEEL
from flywheel_core import PublishResult, Target, hookimpl
from flywheel_core.publishing import PublicationQueue
from flywheel_core.testing import QueueBackend, build_session, run_cli

#: The plugin, as an installed distribution would ship it (templates in a folder beside it).
TOWNHALL = '''
"""Test plugin: a ``build`` session makes a ``story`` page and a ``social_post`` linking to it;
target ``site`` puts pages on an HTTP server, ``town`` posts there (Idempotency-Key: no duplicate)."""
import json
import urllib.error
import urllib.request
from pathlib import Path

from flywheel_core import Artifact, PublishResult, SessionType, Target, compose_social, hookimpl

SCHEMA = {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}},
          "additionalProperties": False}


@hookimpl
def flywheel_session_types():
    return [SessionType("build", "stories", artifacts=("story", "social_post"))]


@hookimpl
def flywheel_template_dirs():
    return [Path(__file__).with_name("townhall_templates")]


@hookimpl
def flywheel_targets():
    return [Target("site", "pages on a server", SCHEMA, kinds=("story",)),
            Target("town", "posts on a server", SCHEMA, kinds=("social_post",))]


@hookimpl
def flywheel_page_url(session, kind, title, config):
    if kind != "story" or "site" not in config.enabled_targets():
        return None
    return f"{config.targets['site']['url']}/pages/{session.session_id}"


@hookimpl
def flywheel_generate(session, ctx):
    title = session.source_data.get("title", "A story")
    body = session.source_data.get("body", "Once upon a time.")
    posts = compose_social(ctx, session, "town", {"title": title}, title=title, page=("story", title))
    return [Artifact("story", f"# {title}\\n\\n{body}\\n", title=title), posts.artifact()]


@hookimpl
def flywheel_publish(target, items, config, ctx):
    if target not in ("site", "town"):
        return None
    results = []
    for item in items:
        if ctx.dry_run:
            results.append(PublishResult(item.id, True, receipt={"paths": [item.session_id]}))
            continue
        if target == "site":
            request = urllib.request.Request(f"{config['url']}/pages/{item.session_id}",
                                             data=item.files[item.filename], method="PUT")
        else:
            social = item.meta.get("social", {})
            text = item.files["social_post.json"].decode()
            request = urllib.request.Request(f"{config['url']}/statuses", method="POST",
                                             data=json.dumps({"text": text, "link": social.get("link")}).encode(),
                                             headers={"Idempotency-Key": item.key})
        try:  # the standard library only: flywheel-core is also tested alone, without httpx
            with urllib.request.urlopen(request, timeout=60) as answer:
                results.append(PublishResult(item.id, True, receipt={"url": json.loads(answer.read())["url"]}))
        except urllib.error.HTTPError as refused:
            results.append(PublishResult(item.id, False, error=f"HTTP {refused.code}: {refused.read().decode()}",
                                         permanent=refused.code == 422))
    return results
'''
TEMPLATES = {
    **{f"town/social_post.{network}.txt.j2": "New story: {{ title }}" for network in ("x", "bluesky", "mastodon",
                                                                                     "linkedin")},
    "town/social_post.md.j2": "# {{ title }}\n{% for n in networks %}{{ n.name }}: {{ n.posts | join(' ') }}\n"
                              "{% endfor %}",
}


class Town:
    """A website and a social network on 127.0.0.1: ``PUT /pages/<id>`` puts a page up,
    ``POST /statuses`` posts (the same Idempotency-Key twice is one post), and each post records
    whether the page its link names was up when it came. ``page_status`` answers page uploads
    with that HTTP status instead; while ``hold`` is clear, an upload waits (after ``put_seen``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pages: dict[str, bytes] = {}
        self.posts: list[dict[str, Any]] = []
        self.keys: dict[str, int] = {}
        self.page_status: int | None = None
        self.hold = threading.Event()
        self.hold.set()
        self.put_seen = threading.Event()
        self.url = ""

    def serve(self) -> ThreadingHTTPServer:
        town = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, code: int, body: dict[str, Any] | str) -> None:
                data = (json.dumps(body) if isinstance(body, dict) else body).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                town.put_seen.set()
                town.hold.wait()
                if town.page_status is not None:
                    self._answer(town.page_status, "the site refuses pages today")
                    return
                with town.lock:
                    town.pages[self.path] = data
                self._answer(201, {"url": f"{town.url}{self.path}"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                key = self.headers.get("Idempotency-Key", "")
                with town.lock:
                    if key not in town.keys:
                        link = body.get("link") or ""
                        town.keys[key] = len(town.posts)
                        town.posts.append({**body, "page_was_up": link.removeprefix(town.url) in town.pages})
                    number = town.keys[key]
                self._answer(200, {"url": f"{town.url}/statuses/{number}"})

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


@pytest.fixture
def town():
    state = Town()
    server = state.serve()
    yield state
    state.hold.set()
    server.shutdown()
    server.server_close()


class Project:
    """A folder whose flywheel.toml names ``town`` before ``site`` (config order is not publish order)."""

    def __init__(self, root: Path, env: dict[str, str], backend: QueueBackend, town: Town, host: Any) -> None:
        self.root, self.env, self.backend, self.town, self.host = root, env, backend, town, host
        self.config = root / "flywheel.toml"
        self.configure()

    def configure(self, *, site: bool = True, archive: bool = False) -> None:
        text = (f'out_dir = "out"\nstate_dir = "state"\n[queue]\nbackoff_seconds = 0\nmax_attempts = 3\n'
                f'{self.backend.toml}[targets.town]\nurl = "{self.town.url}"\n')
        if site:
            text += f'[targets.site]\nurl = "{self.town.url}"\n'
        if archive:
            text += "[targets.archive]\n"
        self.config.write_text(text)

    def session(self, session_id: str = "s1", title: str = "Queue day", body: str = "It went well.") -> Path:
        path = self.root / f"{session_id}.json"
        path.write_text(json.dumps(build_session("build", session_id=session_id,
                                                 source_data={"title": title, "body": body})))
        return path

    def cli(self, *args: Any):
        """``flywheel ARGS`` in this process."""
        return run_cli([*map(str, args), "--config", self.config], host=self.host)

    def flywheel(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """``flywheel ARGS`` as a process of its own, the plugin installed."""
        return subprocess.run([str(FLYWHEEL), *args, "--config", str(self.config)], cwd=self.root, text=True,
                              env={**self.env, **env}, capture_output=True, timeout=300)

    def run(self, *sessions: Path) -> None:
        done = self.cli("run", *sessions)
        assert done.exit_code == 0, done.output

    def entries(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """``queue list --json`` by (session, target), oldest version first."""
        listed = self.cli("queue", "list", "--json")
        assert listed.exit_code == 0, listed.output
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for entry in listed.json():
            out.setdefault((entry["session_id"], entry["target"]), []).append(entry)
        return out

    def page(self, session_id: str = "s1") -> str:
        return f"{self.town.url}/pages/{session_id}"


@pytest.fixture
def project(tmp_path: Path, fake_dist, empty_host, queue_backend: QueueBackend, town: Town) -> Project:
    env = fake_dist("townhall", TOWNHALL)
    site = tmp_path / "site"
    for name, text in TEMPLATES.items():
        (site / "townhall_templates" / name).parent.mkdir(parents=True, exist_ok=True)
        (site / "townhall_templates" / name).write_text(text)
    spec = importlib.util.spec_from_file_location("townhall", site / "townhall.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    empty_host.register(module, name="townhall", distribution="townhall", version="0.1")
    return Project(tmp_path, env, queue_backend, town, empty_host)


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


# -- one publish: the page, then the posts -----------------------------------------------------


def test_publish_puts_the_page_up_before_the_post_that_links_to_it(project: Project) -> None:
    project.run(project.session())
    [page], [post] = project.entries()["s1", "site"], project.entries()["s1", "town"]
    assert (page["waits_for"], post["waits_for"]) == ([], [page["id"]])
    assert post["waiting_for"] == [{"id": page["id"], "target": "site", "kind": "story", "status": "queued",
                                    "error": ""}]
    listed = project.cli("queue", "list").stdout
    assert f"waiting for #{page['id']} (site, queued)" in listed

    dry = project.cli("publish", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == ["would publish story of s1 -> site: s1",
                                       f"1 social post waits for the page (#{page['id']} site queued)"]

    done = project.cli("publish")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines() == [f"published story of s1 -> site: url {project.page()}",
                                        f"published social_post of s1 -> town: url {project.town.url}/statuses/0"]
    [sent] = project.town.posts
    assert sent["link"] == project.page() and sent["page_was_up"]
    assert project.page() in json.loads(sent["text"])["mastodon"][0]


def test_a_failing_page_holds_its_posts_back_untried_until_it_is_published(project: Project) -> None:
    project.run(project.session("s1"), project.session("s2", title="Second day"))
    project.town.page_status = 503
    failed = project.cli("publish")
    assert failed.exit_code == 1
    assert "FAILED 2 entries -> site: HTTP 503: the site refuses pages today" in failed.stderr
    pages = {s: project.entries()[s, "site"][0]["id"] for s in ("s1", "s2")}
    assert f"1 social post waits for the page (#{pages['s1']} site failed: HTTP 503: the site refuses pages today)" \
        in failed.stdout
    for session in ("s1", "s2"):
        [post] = project.entries()[session, "town"]
        assert (post["status"], post["attempts"]) == ("queued", 0), "a waiting post is never tried"
        assert post["waiting_for"][0]["status"] == "failed"
    assert project.town.posts == []
    assert f"waiting for #{pages['s1']} (site, failed)" in project.cli("queue", "list").stdout

    project.town.page_status = None
    done = project.cli("publish")
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "published story of s1 -> site", "published story of s2 -> site",
        "published social_post of s1 -> town", "published social_post of s2 -> town"]
    assert sorted(p["link"] for p in project.town.posts) == [project.page("s1"), project.page("s2")]
    assert all(p["page_was_up"] for p in project.town.posts)
    assert [e["attempts"] for s in ("s1", "s2") for e in project.entries()[s, "town"]] == [1, 1]


def test_a_dead_page_is_reported_with_the_post_it_holds_until_retried(project: Project) -> None:
    project.run(project.session())
    project.town.page_status = 422
    for _ in range(2):  # reported on every publish, not once and then forgotten
        done = project.cli("publish")
        assert done.exit_code == 1
        page, post = project.entries()["s1", "site"][0], project.entries()["s1", "town"][0]
        assert page["status"] == "dead" and (post["status"], post["attempts"]) == ("queued", 0)
        assert (f"WAITING social_post of s1 -> town (entry {post['id']}) for entry {page['id']} (story -> site), "
                f"which is dead: HTTP 422: the site refuses pages today; once the cause is fixed: "
                f"flywheel queue retry {page['id']}") in done.stderr
    as_json = project.cli("publish", "--json")
    assert as_json.exit_code == 1
    [row] = [r for r in as_json.json() if r["id"] == post["id"]]
    assert row["status"] == "waiting" and [a["status"] for a in row["waiting_for"]] == ["dead"]
    assert project.town.posts == []

    project.town.page_status = None
    assert project.cli("queue", "retry", page["id"]).exit_code == 0
    done = project.cli("publish")
    assert done.exit_code == 0, done.output
    [sent] = project.town.posts
    assert sent["page_was_up"]


# -- what is not published before it is up: across processes and crashes -----------------------


def test_a_worker_with_two_threads_never_posts_before_the_page(project: Project) -> None:
    project.run(*(project.session(f"s{i}", title=f"Day {i}") for i in range(3)))
    project.town.hold.clear()  # page uploads wait until the test lets them through
    worker = subprocess.Popen([str(FLYWHEEL), "worker", "--concurrency", "2", "--config", str(project.config)],
                              cwd=project.root, env=project.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        _wait_for(project.town.put_seen.is_set, "the worker to start putting a page up")
        for session in ("s0", "s1", "s2"):
            [post] = project.entries()[session, "town"]
            assert (post["status"], post["attempts"]) == ("queued", 0), "no post is taken while its page is not up"
        project.town.hold.set()
        _wait_for(lambda: len(project.town.posts) == 3, "the three posts")
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    assert "6 published, 0 failed, 0 dead" in err
    assert sorted(p["link"] for p in project.town.posts) == [project.page(f"s{i}") for i in range(3)]
    assert all(p["page_was_up"] for p in project.town.posts)


def test_a_crash_after_the_page_is_up_posts_exactly_once_on_the_next_publish(project: Project) -> None:
    project.run(project.session())
    crashed = project.flywheel("publish", FLYWHEEL_TEST_CRASH_AT="after_queue_update")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert list(project.town.pages) == ["/pages/s1"] and project.town.posts == []
    assert project.entries()["s1", "site"][0]["status"] == "published"
    for _ in range(2):
        again = project.flywheel("publish")
        assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("nothing is due")
    [sent] = project.town.posts
    assert sent["page_was_up"]
    [post] = project.entries()["s1", "town"]
    assert (post["status"], post["attempts"]) == ("published", 1)


# -- who waits for whom -------------------------------------------------------------------------


@pytest.mark.parametrize("queue_backend", ["sqlite"], indirect=True)
def test_a_rerun_that_changes_the_page_makes_the_post_wait_for_the_new_one(project: Project) -> None:
    project.run(project.session(body="First draft."))
    project.town.page_status = 503
    assert project.cli("publish").exit_code == 1
    project.run(project.session(body="Second draft."))  # the page changes, the post does not
    old, new = project.entries()["s1", "site"]
    [post] = project.entries()["s1", "town"]
    assert (old["status"], new["status"]) == ("superseded", "queued")
    assert post["waits_for"] == [new["id"]] and post["waiting_for"][0]["id"] == new["id"]
    project.town.page_status = None
    assert project.cli("publish").exit_code == 0
    assert b"Second draft." in project.town.pages["/pages/s1"]
    [sent] = project.town.posts
    assert sent["page_was_up"]


@pytest.mark.parametrize("queue_backend", ["sqlite"], indirect=True)
def test_a_rejected_page_is_reported_and_approving_it_releases_the_post(project: Project) -> None:
    project.run(project.session())
    page = project.entries()["s1", "site"][0]["id"]
    post = project.entries()["s1", "town"][0]["id"]
    assert project.cli("review", "reject", page).exit_code == 0
    stuck = project.cli("publish")
    assert stuck.exit_code == 1 and project.town.posts == []
    assert (f"WAITING social_post of s1 -> town (entry {post}) for entry {page} (story -> site), which was "
            f"rejected in review: flywheel review approve {page} publishes it and then this entry, "
            f"flywheel review reject {post} drops this entry too") in stuck.stderr
    assert project.cli("review", "approve", page).exit_code == 0
    assert project.cli("publish").exit_code == 0
    assert [p["page_was_up"] for p in project.town.posts] == [True]


@pytest.mark.parametrize("queue_backend", ["sqlite"], indirect=True)
def test_without_a_site_posts_go_out_as_before(project: Project) -> None:
    project.configure(site=False)
    project.run(project.session())
    [post] = project.entries()["s1", "town"]
    assert post["waits_for"] == [] and ("s1", "site") not in project.entries()
    done = project.cli("publish")
    assert done.exit_code == 0, done.output
    [sent] = project.town.posts
    assert sent["link"] is None and "http" not in sent["text"]


class Archive:
    """A target keeping a copy of every artifact, as a repository does."""

    @hookimpl
    def flywheel_targets(self):
        return [Target("archive", "every artifact, kept")]

    @hookimpl
    def flywheel_publish(self, target, items, config, ctx):
        if target != "archive":
            return None
        return [PublishResult(item.id, True, receipt={"path": item.filename}) for item in items]


@pytest.mark.parametrize("queue_backend", ["sqlite"], indirect=True)
def test_a_repository_keeping_a_copy_of_the_post_does_not_wait_for_the_page(project: Project) -> None:
    project.host.register(Archive(), name="archive", distribution="archive", version="0.1")
    project.configure(archive=True)
    project.run(project.session())
    [page] = project.entries()["s1", "site"]
    story, copy = project.entries()["s1", "archive"]
    [post] = project.entries()["s1", "town"]
    assert (copy["kind"], copy["waits_for"], post["waits_for"]) == ("social_post", [], [page["id"]])
    done = project.cli("publish", "--target", "archive")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[:2] == ["published story of s1 -> archive: path story.md",
                                            "published social_post of s1 -> archive: path social_post.md"]
    assert project.town.pages == {} and project.town.posts == []


# -- the queue itself, on both backends ----------------------------------------------------------


def _add(queue: PublicationQueue, target: str, text: str, waits_for: list[int] | None = None, kind: str = "story"):
    entry, _ = queue.enqueue(target=target, session_id="s1", session_type="build", kind=kind, ext="md",
                             files={f"{kind}.md": text.encode()}, meta={}, waits_for=waits_for)
    return entry


@pytest.fixture
def queue(tmp_path: Path, queue_backend: QueueBackend):
    with queue_backend.open(tmp_path / "state", {"backoff_seconds": 0}) as q:
        yield q


def test_a_waiting_entry_is_not_due_until_what_it_waits_for_is_published(queue: PublicationQueue) -> None:
    page = _add(queue, "site", "page")
    post = _add(queue, "town", "post", [page.id], kind="social_post")
    assert queue.target_order(["town", "site"]) == ["site", "town"]
    assert queue.claim("town") == [] and [e.id for e in queue.due()] == [page.id]
    assert queue.next_due(["town"]) is None, "an idle worker is woken, not polling for it"
    assert [e.id for e in queue.waiting()] == [post.id] and queue.unmet([post])[post.id][0].id == page.id
    [claimed] = queue.claim("site")
    queue.record(PublishResult(claimed.id, False, error="HTTP 503"))
    assert queue.claim("town") == [] and queue.get(post.id).attempts == 0
    [claimed] = queue.claim("site")
    queue.record(PublishResult(claimed.id, True, receipt={"url": "page"}))
    assert queue.unmet([post]) == {} and queue.target_order(["town", "site"]) == ["town", "site"]
    [taken] = queue.claim("town")
    assert (taken.id, taken.attempts) == (post.id, 1)


def test_a_new_version_of_what_is_waited_for_takes_its_place(queue: PublicationQueue) -> None:
    first = _add(queue, "site", "page v1")
    post = _add(queue, "town", "post", [first.id], kind="social_post")
    second = _add(queue, "site", "page v2")
    assert queue.get(first.id).status == "superseded"
    assert queue.get(post.id).waits_for == [second.id], "a superseded page is no page: wait for the new one"
    assert queue.claim("town") == []
    [claimed] = queue.claim("site")
    queue.record(PublishResult(claimed.id, True))
    assert [e.id for e in queue.claim("town")] == [post.id]


@pytest.mark.parametrize("queue_backend", ["postgres"], indirect=True)  # SQLite workers poll: nothing to wake
def test_publishing_a_page_wakes_the_workers_of_the_posts_waiting_for_it(queue: PublicationQueue,
                                                                        queue_backend: QueueBackend) -> None:
    import psycopg

    page = _add(queue, "site", "page")
    _add(queue, "town", "post", [page.id], kind="social_post")
    with psycopg.connect(queue_backend.url, autocommit=True) as listener:
        listener.execute("LISTEN flywheel_queue")
        [claimed] = queue.claim("site")
        queue.record(PublishResult(claimed.id, True))
        woken = [n.payload for n in listener.notifies(timeout=30, stop_after=1)]
    assert woken == ["town"]



@pytest.mark.parametrize("queue_backend", ["postgres"], indirect=True)
def test_approving_a_held_entry_wakes_the_workers_of_its_target(queue: PublicationQueue,
                                                                queue_backend: QueueBackend) -> None:
    """`flywheel review approve` on one machine: a worker idle in LISTEN elsewhere takes the entry
    at once (was: it noticed on its next 30 s poll)."""
    import psycopg

    held, _ = queue.enqueue(target="site", session_id="s1", session_type="build", kind="story", ext="md",
                            files={"story.md": b"page"}, meta={}, scan={"held": "findings", "findings": []})
    assert held.status == "held"
    with psycopg.connect(queue_backend.url, autocommit=True) as listener:
        listener.execute("LISTEN flywheel_queue")
        queue.approve(held.id)
        woken = [n.payload for n in listener.notifies(timeout=30, stop_after=1)]
    assert woken == ["site"]

# -- an older queue ------------------------------------------------------------------------------


def test_an_sqlite_queue_of_schema_5_is_upgraded_and_its_entries_wait_for_nothing(tmp_path: Path) -> None:
    from flywheel_core.publishing.sqlite import _MIGRATIONS

    config = tmp_path / "flywheel.toml"
    config.write_text('state_dir = "state"\n')
    for name in ("opened", "migrated"):
        (tmp_path / "state").mkdir(exist_ok=True)
        db = sqlite3.connect(tmp_path / "state" / "queue.sqlite3", isolation_level=None)
        for step in range(1, 6):
            for statement in filter(str.strip, _MIGRATIONS[step].split(";")):
                db.execute(statement)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA user_version = 5")
        db.execute("INSERT INTO items (key, target, session_id, session_type, kind, ext, sha256, seq, files, meta, "
                   "status, next_attempt_at, created_at, updated_at) "
                   "VALUES ('k', 'town', 's1', 'build', 'social_post', 'md', 'x', 1, '{}', '{}', 'queued', 0, 0, 0)")
        db.close()
        if name == "migrated":
            done = run_cli(["queue", "migrate", "--config", str(config)])
            assert done.stdout.endswith("upgraded the queue from schema version 5 to 6\n"), done.output
        listed = run_cli(["queue", "list", "--json", "--config", str(config)])  # opening upgrades it too
        assert listed.exit_code == 0, listed.output
        [entry] = listed.json()
        assert (entry["status"], entry["waits_for"], entry["waiting_for"]) == ("queued", [], [])
        with PublicationQueue.in_folder(tmp_path / "state") as queue:
            assert [e.id for e in queue.claim("town")] == [entry["id"]]
        assert sqlite3.connect(tmp_path / "state" / "queue.sqlite3").execute("PRAGMA user_version").fetchone() == (6,)
        shutil.rmtree(tmp_path / "state")


def test_a_postgresql_queue_of_schema_5_is_upgraded_by_migrate(tmp_path: Path, postgres_url: str) -> None:
    config = tmp_path / "flywheel.toml"
    config.write_text(f'state_dir = "state"\n[queue]\nurl = "{postgres_url}"\n')
    backend = QueueBackend("postgres", postgres_url)
    with backend.open(tmp_path / "state") as queue:
        queue.storage.migrate()
        # What schema 5 was: no waits_for column, no index on it.
        for statement in ("DROP INDEX items_waiting", "ALTER TABLE items DROP COLUMN waits_for",
                          "UPDATE flywheel_schema SET version = 5"):
            queue.storage.execute(statement)
        queue.storage.execute(
            "INSERT INTO items (key, target, session_id, session_type, kind, ext, sha256, seq, files, meta, status, "
            "next_attempt_at, created_at, updated_at) VALUES ('k', 'town', 's1', 'build', 'social_post', 'md', 'x', "
            "1, '{}', '{}', 'queued', 0, 0, 0)")
    refused = run_cli(["queue", "list", "--config", str(config)])
    assert refused.exit_code == 1 and "schema is version 5, this flywheel needs 6" in refused.stderr
    done = run_cli(["queue", "migrate", "--config", str(config)])
    assert done.exit_code == 0 and done.stdout.endswith("upgraded the queue from schema version 5 to 6\n")
    [entry] = run_cli(["queue", "list", "--json", "--config", str(config)]).json()
    assert (entry["status"], entry["waits_for"], entry["waiting_for"]) == ("queued", [], [])


@pytest.mark.parametrize("queue_backend", ["sqlite"], indirect=True)
def test_end_of_session_says_a_post_waits_for_its_page(project: Project) -> None:
    """What `flywheel end` and the Python API report: a post held back by its failing page says
    which entry it waits for (was: a bare `queued`, as if nothing stood in its way)."""
    from flywheel_core import run_session_file

    project.town.page_status = 503
    outcome = run_session_file(project.session(), config=project.config, host=project.host)
    page = next(p for p in outcome.pending if p.target == "site")
    [post] = [p for p in outcome.pending if p.target == "town"]
    assert (page.status, post.status) == ("failed", "queued")
    assert post.error == f"waits for entry {page.entry_id} (story -> site, failed)"


def test_print_outcome_keeps_the_reason_a_queued_post_waits(capsys: pytest.CaptureFixture[str]) -> None:
    from flywheel_core.cli.tracking import print_outcome
    from flywheel_core.tracking import Pending, SessionOutcome

    outcome = SessionOutcome(None, "s1", "build", "complete", publish_requested=False)
    outcome.pending.append(Pending("town", "social_post", "queued", "waits for entry 1 (story -> site, queued)", 2))
    outcome.pending.append(Pending("site", "story", "queued", None, 1))
    print_outcome(outcome)
    lines = capsys.readouterr().out.splitlines()[1:]
    assert lines == ["  queued social_post -> town (entry 2): waits for entry 1 (story -> site, queued)",
                     "  queued story -> site (entry 1) (publish with `flywheel publish`)"]


def test_print_outcome_says_a_failed_entry_is_tried_again_and_how_to_revive_a_dead_one(
        capsys: pytest.CaptureFixture[str]) -> None:
    from flywheel_core.cli.tracking import print_outcome
    from flywheel_core.tracking import Pending, SessionOutcome

    outcome = SessionOutcome(None, "s1", "build", "complete", publish_requested=True)
    outcome.pending.append(Pending("town", "social_post", "failed", "HTTP 503", 7))
    outcome.pending.append(Pending("site", "story", "dead", "HTTP 401", 3))
    print_outcome(outcome)
    lines = capsys.readouterr().out.splitlines()[1:]
    assert lines == ["  FAILED social_post -> town (entry 7): HTTP 503 (tried again later; `flywheel queue list` says when)",
                     "  DEAD story -> site (entry 3): HTTP 401 (once the cause is fixed: flywheel queue retry 3)"]
