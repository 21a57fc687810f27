"""The publishing scan at enqueue (hold, redact, off, per target and kind), `flywheel review`, and held summaries."""

from __future__ import annotations

import json
import os
import sqlite3
import types
from pathlib import Path

import pytest

from core_support import load
from flywheel_core import Artifact, SessionType, hookimpl
from flywheel_core.errors import UsageError
from flywheel_core.testing import build_session
from scan_fakes import Fakes
from test_publish import SHELF, Project, _shelf_module

FAKE = Fakes("review-tests")
TOKEN = "ghp_" + FAKE.chars("alnum", 36)
EMAIL = "ana.lima.dev@gmail.com"
SID = "test-build-001"


@pytest.fixture
def project(tmp_path: Path, echo_host) -> Project:
    echo_host.register(_shelf_module(), name="shelf", distribution="flywheel-shelf", version="1")
    return Project(tmp_path, echo_host)


def _shelf(scan: str = "", review: str = "", second: bool = False) -> str:
    table = f'[targets.shelf]\ndir = "shelf"\n{scan}\n{review}\n'
    if second:
        table += f'[targets.shelf2]\ndir = "shelf2"\n{scan}\n'
    return table


def _session(tmp_path: Path, *messages: str, name: str = "s.json", **fields) -> Path:
    commits = [{"hash": f"{i:x}" * 40, "message": m, "author": "Ana Lima", "email": EMAIL}
               for i, m in enumerate(messages, start=10)]
    path = tmp_path / name
    path.write_text(json.dumps(build_session("build", source_data={"git_commits": commits}, **fields)))
    return path


def _blobs(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (root / "state" / "blobs").rglob("*") if p.is_file())


def _published(root: Path, folder: str = "shelf") -> bytes:
    base = root / folder
    return b"".join(p.read_bytes() for p in base.rglob("*") if p.is_file()) if base.exists() else b""


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize("table,path", [
    ('scan = "maybe"', "$.targets.shelf.scan"),
    ('scan = {default = "hold", social_post = "publish"}', "$.targets.shelf.scan.social_post"),
    ('review = "sometimes"', "$.targets.shelf.review"),
])
def test_a_bad_scan_setting_names_its_path(project: Project, table: str, path: str) -> None:
    project.configure(_shelf(table))
    result = project.cli("queue", "list")
    assert result.exit_code == 2 and path in result.stderr, result.stderr


def test_policy_by_target_and_kind(tmp_path: Path) -> None:
    from flywheel_core.config import load_config

    (tmp_path / "flywheel.toml").write_text(
        '[scan]\nallowlist = "fp.json"\n'
        '[targets.a]\n[targets.b]\nscan = "redact"\nreview = "always"\n'
        '[targets.c.scan]\ndefault = "off"\nsocial_post = "redact"\n'
        '[targets.d]\nscan = {summary = "redact"}\n')
    config = load_config(cwd=tmp_path)
    assert config.allowlist_path == tmp_path / "fp.json"
    got = {(t, k): config.scan_policy(t, k) for t in "abcd" for k in ("summary", "social_post")}
    assert got == {("a", "summary"): "hold", ("a", "social_post"): "hold", ("b", "summary"): "redact",
                   ("b", "social_post"): "redact", ("c", "summary"): "off", ("c", "social_post"): "redact",
                   ("d", "summary"): "redact", ("d", "social_post"): "hold"}
    assert [config.review_mode(t) for t in "ab"] == ["findings", "always"]


# -- hold -----------------------------------------------------------------------------------------


def test_hold_keeps_the_entry_out_of_every_publish_and_says_why(project: Project, tmp_path: Path) -> None:
    project.configure(_shelf())
    session = _session(tmp_path, f"deploy with {TOKEN} to prod")
    run = project.cli("run", session)
    assert run.exit_code == 0, run.output
    [entry] = project.entries()
    assert entry["status"] == "held" and entry["scan"]["held"] == "findings"
    found = {(f["file"], f["rule"]) for f in entry["scan"]["findings"]}
    assert found == {("summary.md", "GitHub Token"), ("$.source_data.git_commits[0].message", "GitHub Token")}
    assert TOKEN not in json.dumps(entry), "findings are masked"
    published = project.cli("publish")
    assert published.exit_code == 0, "holding is the policy working"
    lines = published.stdout.splitlines()
    assert lines[0] == (f"HELD summary of {SID} -> shelf (entry {entry['id']}): 2 findings; "
                        f"`flywheel review show {entry['id']}`, then approve or reject it")
    preview = entry["scan"]["findings"][0]["preview"]
    assert lines[1:] == [f"  summary.md:2:15: GitHub Token {preview} (and 1 more place)",
                         "nothing is due; 1 held for review (flywheel review list)"], "one line per value found"
    assert TOKEN not in published.output and _published(project.root) == b""
    strict = project.cli("publish", "--strict")
    assert strict.exit_code == 1 and "HELD summary" in strict.stderr
    record = load(session)["artifacts"]["summary"]
    assert record["status"] == "held"
    assert record["published_to"]["shelf"] == {"status": "held", "queue_entry": entry["id"], "held": "findings",
                                               "findings": 2}
    as_json = project.cli("publish", "--json").json()
    assert [(r["id"], r["status"], len(r["scan"]["findings"])) for r in as_json] == [(entry["id"], "held", 2)]


def test_a_clean_session_is_not_held_and_authors_are_no_finding(project: Project, tmp_path: Path) -> None:
    project.configure(_shelf())
    session = _session(tmp_path, f"Co-authored-by: Ana Lima <{EMAIL}>", "fix the 4096 token limit in a1b2c3d")
    assert project.cli("run", session).exit_code == 0
    assert [e["status"] for e in project.entries()] == ["queued"]


def test_a_session_field_counts_only_where_the_artifact_carries_it(project: Project, tmp_path: Path) -> None:
    project.configure(_shelf())
    # The summary template renders commit messages only: a token in another field publishes nothing.
    session = _session(tmp_path, "plain work", metadata={"notes": f"token {TOKEN}"})
    assert project.cli("run", session).exit_code == 0
    assert [e["status"] for e in project.entries()] == ["queued"]


def test_a_token_cut_short_by_a_template_is_still_held(tmp_path: Path, empty_host) -> None:
    # The scan of the file cannot know the 20 characters left are a token; the session's can.
    class Cutter:
        @hookimpl
        def flywheel_session_types(self):
            return [SessionType("build", "cuts")]

        @hookimpl
        def flywheel_generate(self, session, ctx):
            message = session.source_data["git_commits"][0]["message"]
            return [Artifact("summary", f"# Post\n\n{message[:30]}…\n")]

    empty_host.register(Cutter(), name="cutter")
    empty_host.register(_shelf_module(), name="shelf")
    project = Project(tmp_path, empty_host)
    project.configure(_shelf('scan = "redact"'))
    session = _session(tmp_path, f"the key is {TOKEN} and more")
    assert project.cli("run", session).exit_code == 0
    assert project.cli("publish").exit_code == 0
    published = (project.root / "shelf" / SID / "summary.md").read_text()
    assert published == "# Post\n\nthe key is [redacted:github-token]…\n"
    assert TOKEN[:16].encode() not in _blobs(project.root)


def test_a_token_reshaped_into_a_link_slug_is_cut_out(tmp_path: Path, empty_host) -> None:
    # Found by the corpus test: an aria social post links to its devlog's page, whose address is
    # the slug of a title that held an .env line: lower case, punctuation gone, the token in it.
    import re

    class Linker:
        @hookimpl
        def flywheel_session_types(self):
            return [SessionType("build", "links")]

        @hookimpl
        def flywheel_generate(self, session, ctx):
            title = session.source_data["git_commits"][0]["message"]
            slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
            return [Artifact("summary", f"# New post\n\nRead it: <https://example.org/{slug}/>\n")]

    empty_host.register(Linker(), name="linker")
    empty_host.register(_shelf_module(), name="shelf")
    project = Project(tmp_path, empty_host)
    project.configure(_shelf('scan = "redact"'))
    secret = FAKE.chars("b64", 40)
    assert project.cli("run", _session(tmp_path, f"AWS_SECRET_ACCESS_KEY={secret}")).exit_code == 0
    assert project.cli("publish").exit_code == 0
    published = (project.root / "shelf" / SID / "summary.md").read_text()
    assert published.startswith("# New post\n\nRead it: <https://example.org/aws-secret-access-key-[redacted:")
    letters = re.sub(r"[^a-z0-9]", "", secret.lower())
    assert not any(letters[i:i + 12] in published for i in range(len(letters) - 11))


# -- redact and off -------------------------------------------------------------------------------


def test_redact_stores_and_publishes_the_redacted_bytes_only(project: Project, tmp_path: Path) -> None:
    project.configure(_shelf('scan = "redact"'))
    session = _session(tmp_path, f"deploy with {TOKEN} to prod", "mail ana.lima.personal@gmail.com")
    run = project.cli("run", session)
    assert run.exit_code == 0, run.output
    [entry] = project.entries()
    assert entry["status"] == "queued" and entry["scan"]["policy"] == "redact" and len(entry["scan"]["findings"]) == 4
    assert TOKEN.encode() not in _blobs(project.root), "the secret never lands in the blob store"
    assert project.cli("publish").exit_code == 0
    text = (project.root / "shelf" / SID / "summary.md").read_text()
    assert text.splitlines()[1:] == ["- deploy with [redacted:github-token] to prod",
                                     "- mail [redacted:e-mail-address]"]
    record = load(session)["artifacts"]["summary"]
    assert record["status"] == "published", "the session file shows the redacted version as its artifact's"
    assert record["sha256"] == entry["sha256"]


def test_an_unredactable_file_holds_the_entry(tmp_path: Path, empty_host) -> None:
    class Binary:
        @hookimpl
        def flywheel_session_types(self):
            return [SessionType("build", "binary")]

        @hookimpl
        def flywheel_generate(self, session, ctx):
            blob = b"\x00\x01\xff" + f"token={TOKEN}".encode() + b"\xfe"
            return [Artifact("summary", "# fine\n", attachments={"bundle.bin": blob})]

    empty_host.register(Binary(), name="binary")
    empty_host.register(_shelf_module(), name="shelf")
    project = Project(tmp_path, empty_host)
    project.configure(_shelf('scan = "redact"'))
    assert project.cli("run", _session(tmp_path, "ok")).exit_code == 0
    [entry] = project.entries()
    assert entry["status"] == "held" and entry["scan"]["held"] == "unredactable"
    assert "bundle.bin: binary file with findings" in entry["scan"]["reason"]
    assert "cannot be redacted (bundle.bin" in project.cli("publish").stdout


def test_a_session_id_that_is_a_credential_holds_the_entry_under_redact(project: Project, tmp_path: Path) -> None:
    # Redaction cut the token out of the text, but the id names what targets publish: the shelf's
    # folder, the github target's paths and commit message, the web page's "Session" line.
    project.configure(_shelf('scan = "redact"'))
    assert project.cli("run", _session(tmp_path, "feat: fine", session_id=TOKEN)).exit_code == 0
    [entry] = project.entries()
    assert entry["status"] == "held" and entry["scan"]["held"] == "unredactable"
    assert entry["scan"]["reason"].startswith("the session_id holds a GitHub Token (ghp_")
    assert TOKEN not in entry["scan"]["reason"]
    assert project.cli("publish").exit_code == 0
    assert not (project.root / "shelf").exists() or TOKEN not in str(list((project.root / "shelf").rglob("*")))


def test_off_publishes_as_today_and_policies_differ_by_kind(project: Project, tmp_path: Path) -> None:
    project.configure(_shelf('scan = {default = "hold", summary = "off"}'))
    assert project.cli("run", _session(tmp_path, f"key {TOKEN}")).exit_code == 0
    [entry] = project.entries()
    assert entry["status"] == "queued" and entry["scan"] == {"policy": "off", "review": "findings", "held": None,
                                                             "findings": [], "approved": None}
    assert project.cli("publish").exit_code == 0
    assert TOKEN.encode() in _published(project.root), "off: published as the template wrote it"


# -- review ---------------------------------------------------------------------------------------


def test_review_list_json_and_show_never_print_the_value(project: Project, tmp_path: Path) -> None:
    project.configure(_shelf(second=True))
    project.host.register(_second_shelf(), name="shelf2")
    other = "ana.lima.work@gmail.com"
    assert project.cli("run", _session(tmp_path, f"deploy with {TOKEN} to prod for {other}")).exit_code == 0
    listed = project.cli("review", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = listed.json()
    assert [(r["target"], r["kind"], r["session_id"], r["held"]) for r in rows] == [
        ("shelf", "summary", SID, "findings"), ("shelf2", "summary", SID, "findings")]
    assert {f["rule"] for f in rows[0]["findings"]} == {"GitHub Token", "E-mail address"}
    text = project.cli("review", "list").stdout
    assert text.startswith(f"HELD summary of {SID} -> shelf, shelf2 (entries {rows[0]['id']}, {rows[1]['id']}): ")
    shown = project.cli("review", "show", str(rows[0]["id"]))
    assert shown.exit_code == 0
    preview = next(f["preview"] for f in rows[0]["findings"] if f["rule"] == "GitHub Token")
    # The line of each finding, with every finding on it masked (a neighbour's value included).
    assert f"      - deploy with {preview} to prod for a***@***.com\n" in shown.stdout
    assert f"same version for shelf2: entry {rows[1]['id']}, held" in shown.stdout
    for leak in (TOKEN, TOKEN.replace("_", "\\_")[4:], other, other.replace(".", "\\.")):
        assert leak not in listed.output + text + shown.output


def _second_shelf():
    """The shelf target again, named shelf2."""
    module = types.ModuleType("shelf2_target")
    source = SHELF.replace('Target("shelf"', 'Target("shelf2"').replace('target != "shelf"', 'target != "shelf2"')
    exec(compile(source, "shelf2_target.py", "exec"), module.__dict__)
    return module


def test_approve_publishes_as_is_and_is_not_held_again(project: Project, tmp_path: Path) -> None:
    project.configure(_shelf())
    session = _session(tmp_path, f"contact {EMAIL.replace('dev', 'home')}")
    project.cli("run", session)
    [entry] = project.entries()
    assert entry["status"] == "held"
    approved = project.cli("review", "approve", str(entry["id"]))
    assert approved.exit_code == 0, approved.output
    assert approved.stdout.startswith(f"approved entry {entry['id']} (summary of {SID} -> shelf): queued")
    assert load(session)["artifacts"]["summary"]["status"] == "queued"
    assert project.cli("publish").exit_code == 0
    assert b"ana.lima.home@gmail.com" in _published(project.root)
    again = project.cli("run", session)
    assert again.exit_code == 0
    [entry] = project.entries()
    assert entry["status"] == "published" and entry["scan"]["approved"]
    assert project.cli("review", "approve", str(entry["id"])).exit_code == 2, "only held entries are approved"


def test_reject_removes_the_version_from_every_target(project: Project, tmp_path: Path) -> None:
    project.configure(_shelf(second=True))
    project.host.register(_second_shelf(), name="shelf2")
    session = _session(tmp_path, f"deploy with {TOKEN}")
    project.cli("run", session)
    first, second = project.entries()
    rejected = project.cli("review", "reject", str(first["id"]))
    assert rejected.exit_code == 0, rejected.output
    assert rejected.stdout.splitlines() == [f"rejected entry {first['id']} (summary of {SID} -> shelf)",
                                            f"rejected entry {second['id']} (summary of {SID} -> shelf2)"]
    assert [e["status"] for e in project.entries()] == ["rejected", "rejected"]
    assert project.cli("publish").stdout == "nothing is due\n"
    assert load(session)["artifacts"]["summary"]["status"] == "rejected"
    project.cli("run", session)
    assert [e["status"] for e in project.entries()] == ["rejected", "rejected"], "the same bytes stay rejected"


def test_reject_names_targets_that_already_published_the_version(project: Project, tmp_path: Path) -> None:
    project.configure(_shelf('scan = "off"') + '[targets.shelf2]\ndir = "shelf2"\n')
    project.host.register(_second_shelf(), name="shelf2")
    project.cli("run", _session(tmp_path, f"mail {EMAIL.replace('dev', 'x')}"))
    project.cli("publish", "--target", "shelf")
    held = [e for e in project.entries() if e["status"] == "held"]
    out = project.cli("review", "reject", str(held[0]["id"])).stdout
    assert "ALREADY PUBLISHED entry" in out and "-> shelf): path " in out and "remove it there by hand" in out


def test_review_always_holds_every_entry_until_approved(project: Project, tmp_path: Path) -> None:
    project.configure(_shelf('scan = "off"', 'review = "always"'))
    project.cli("run", _session(tmp_path, "plain work"))
    [entry] = project.entries()
    assert entry["status"] == "held" and entry["scan"]["held"] == "review" and entry["scan"]["findings"] == []
    assert 'waits for review (review = "always")' in project.cli("publish").stdout
    project.cli("review", "approve", str(entry["id"]))
    assert project.cli("publish").exit_code == 0 and _published(project.root)


def test_allow_adds_the_findings_and_releases_what_they_held(project: Project, tmp_path: Path) -> None:
    project.configure(_shelf())
    other = "support.desk@fastmail.com"
    project.cli("run", _session(tmp_path, f"write to {other}", name="a.json"))
    doc = build_session("build", session_id="test-build-002",
                        source_data={"git_commits": [{"hash": "b" * 40, "message": f"cc {other}"}]})
    (tmp_path / "b.json").write_text(json.dumps(doc))
    project.cli("run", tmp_path / "b.json")
    first, second = project.entries()
    allowed = project.cli("review", "allow", str(first["id"]), "--note", "our public support address")
    assert allowed.exit_code == 0, allowed.output
    assert allowed.stdout.splitlines()[0] == f"1 finding(s) added to the allow-list {tmp_path / '.flywheel-allow.json'}"
    assert [e["status"] for e in project.entries()] == ["queued", "queued"]
    allow_list = json.loads((tmp_path / ".flywheel-allow.json").read_text())
    assert [(e["rule"], e["note"]) for e in allow_list["allow"]] == [("E-mail address", "our public support address")]
    assert other not in (tmp_path / ".flywheel-allow.json").read_text()
    doc["source_data"]["git_commits"][0]["message"] = f"cc {other} again"
    (tmp_path / "b.json").write_text(json.dumps(doc))
    project.cli("run", tmp_path / "b.json")
    assert project.entries()[-1]["status"] == "queued", "an allowed value is not held again"


def test_a_malformed_allow_list_is_a_one_line_error(project: Project, tmp_path: Path) -> None:
    project.configure('[scan]\nallowlist = "fp.json"\n' + _shelf())
    (tmp_path / "fp.json").write_text('{"version": 1, "allow": [{"rule": "x", "fingerprint": "nope"}]}')
    result = project.cli("run", _session(tmp_path, "plain"))
    assert result.exit_code == 2
    assert f"{tmp_path / 'fp.json'}: $.allow[0].fingerprint: expected 64 lower-case hex digits" in result.stderr


def test_a_new_version_supersedes_a_held_one(project: Project, tmp_path: Path) -> None:
    project.configure(_shelf())
    session = _session(tmp_path, f"oops {TOKEN}")
    project.cli("run", session)
    doc = load(session)
    doc["source_data"]["git_commits"][0]["message"] = "oops, removed"
    session.write_text(json.dumps(doc))
    project.cli("run", session)
    assert [e["status"] for e in project.entries()] == ["superseded", "queued"]


# -- the queue ------------------------------------------------------------------------------------


def test_schema_4_adds_the_findings_column_to_an_existing_queue(tmp_path: Path) -> None:
    from flywheel_core.publishing import PublicationQueue
    from flywheel_core.publishing.sqlite import _MIGRATIONS

    path = tmp_path / "queue.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for step in (1, 2, 3):
        for statement in filter(str.strip, _MIGRATIONS[step].split(";")):
            db.execute(statement)
    db.execute("PRAGMA user_version = 3")
    db.execute("INSERT INTO items (key, target, session_id, session_type, kind, ext, sha256, seq, files, meta, "
               "status, next_attempt_at, created_at, updated_at) "
               "VALUES ('k', 'shelf', 's', 'build', 'readme', 'md', 'x', 1, '{}', '{}', 'queued', 0, 0, 0)")
    db.close()
    with PublicationQueue.in_folder(tmp_path) as queue:
        [entry] = queue.entries()
        assert entry.findings is None and entry.status == "queued"
        with pytest.raises(UsageError, match="not held"):
            queue.approve(entry.id)


def test_a_rejected_entry_being_published_records_a_success_never_a_retry(tmp_path: Path) -> None:
    from flywheel_core import PublishResult
    from flywheel_core.publishing import PublicationQueue

    with PublicationQueue.in_folder(tmp_path) as queue:
        entry, _ = queue.enqueue(target="t", session_id="s", session_type="build", kind="readme", ext="md",
                                 files={"readme.md": b"x"}, meta={})
        [claimed] = queue.claim("t")
        queue.reject(claimed.id)
        assert queue.record(PublishResult(claimed.id, False, error="boom")).status == "rejected"
        assert queue.claim("t") == []


def test_a_target_token_from_the_environment_goes_through_core(tmp_path: Path, empty_host, monkeypatch) -> None:
    from flywheel_core import Target, redact
    from flywheel_core.config import Secret, load_config
    from flywheel_core.publishing import check_target

    schema = {"type": "object", "properties": {
        "token": {"type": "string", "x-env": ["MY_TARGET_TOKEN"]},
        "deploy": {"type": "object", "properties": {"token": {"type": "string", "x-env": ["MY_DEPLOY_TOKEN"]}}},
    }, "additionalProperties": False}

    class Vault:
        @hookimpl
        def flywheel_targets(self):
            return [Target("vault", "keeps things", schema)]

    empty_host.register(Vault(), name="vault")
    (tmp_path / "flywheel.toml").write_text('[targets.vault]\nscan = "redact"\ndeploy = {}\n')
    config = load_config(cwd=tmp_path)
    assert check_target(config, empty_host, "vault") == {"scan": "redact", "deploy": {}}
    value, nested = "vault-" + FAKE.chars("alnum", 20), "deploy-" + FAKE.chars("alnum", 20)
    monkeypatch.setenv("MY_TARGET_TOKEN", value)
    monkeypatch.setenv("MY_DEPLOY_TOKEN", nested)
    table = check_target(config, empty_host, "vault")
    assert isinstance(table["token"], Secret) and isinstance(table["deploy"]["token"], Secret)
    assert repr(table) == "{'scan': 'redact', 'deploy': {'token': '***'}, 'token': '***'}"
    assert redact(f"echo {value} {nested}") == "echo *** ***", "registered with the redactor"


def test_run_says_what_it_held_and_strict_fails_for_ci(project: Project, tmp_path: Path) -> None:
    project.configure(_shelf())
    session = _session(tmp_path, f"deploy with {TOKEN} to prod")
    run = project.cli("run", session)
    assert run.exit_code == 0, run.output
    [entry] = project.entries()
    assert "queued for shelf" not in run.stdout, "a held entry is not said to be queued"
    assert f"  HELD summary of {SID} -> shelf (entry {entry['id']}): 2 findings;" in run.stdout
    assert "GitHub Token" in run.stdout and TOKEN not in run.output
    again = _session(tmp_path, f"deploy with {TOKEN} to prod", name="t.json", session_id="test-build-002")
    strict = project.cli("run", again, "--strict")
    assert strict.exit_code == 1 and "HELD summary" in strict.stdout
    clean = _session(tmp_path, "fix: a typo", name="u.json", session_id="test-build-003")
    assert project.cli("run", clean, "--strict").exit_code == 0


def test_an_allow_list_that_is_a_fifo_is_a_one_line_error(project: Project, tmp_path: Path) -> None:
    # Before: the scan read the FIFO named by [scan] allowlist and waited for ever.
    project.configure('[scan]\nallowlist = "fp.json"\n' + _shelf())
    os.mkfifo(tmp_path / "fp.json")
    result = project.cli("run", _session(tmp_path, "plain"))
    assert result.exit_code == 2
    assert f"{tmp_path / 'fp.json'}: $: is a FIFO (named pipe), expected a regular file" in result.stderr


@pytest.mark.parametrize("args", [["review", "show"], ["review", "approve"], ["review", "reject"], ["review", "allow"],
                                  ["queue", "retry"]])
def test_an_id_no_queue_row_can_have_is_a_usage_error(project: Project, tmp_path: Path, args) -> None:
    # 10**23 does not fit a 64-bit row id: "internal error: OverflowError: Python int too large
    # to convert to SQLite INTEGER", exit 1.
    project.configure(_shelf())
    assert project.cli("run", _session(tmp_path, "feat: one")).exit_code == 0
    result = project.cli(*args, "99999999999999999999999")
    assert result.exit_code == 2, result.output
    assert "OverflowError" not in result.output and "internal error" not in result.output
