"""The github target against real git: layout, one commit per batch, idempotence, non-fast-forward, safety."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


from flywheel_core import PublishItem, PublishResult, Target

GIT = "/usr/bin/git"
ID_A = "sess-a-2025-12-02"
ID_B = "sess-b-2025-12-03"
DIR_A = f"sessions/build/2025-12-02/{ID_A}"
#: Run by the git shim before flywheel's push: a second clone commits and pushes first.
THEIRS = (
    "cd {other} && echo $RANDOM$RANDOM >> theirs.txt && {git} add theirs.txt && "
    "{git} -c user.name=O -c user.email=o@x commit -q -m theirs && {git} push -q origin HEAD:main\n"
)


def test_publishes_each_artifact_and_its_attachments_in_one_commit(ws) -> None:
    ws.run(ws.session(ID_A), ws.session(ID_B, timestamp="2025-12-03T10:00:00Z"))
    result = ws.publish()
    assert result.exit_code == 0, result.output
    assert result.stdout.count("published ") == 4
    assert len(ws.log()) == 1, "one commit for the whole batch"
    assert sorted(ws.tree()) == sorted([
        f"{DIR_A}/readme.md", f"{DIR_A}/media/logo.svg", f"{DIR_A}/build_log.md",
        f"sessions/build/2025-12-03/{ID_B}/readme.md", f"sessions/build/2025-12-03/{ID_B}/media/logo.svg",
        f"sessions/build/2025-12-03/{ID_B}/build_log.md",
    ])
    assert ws.show(f"{DIR_A}/readme.md") == f"# {ID_A}\n\nfirst\n".encode()
    message = ws.git(f"--git-dir={ws.remote}", "log", "-1", "--format=%B", "main")
    assert message.startswith("flywheel: publish 4 artifact(s) from 2 session(s)\n\n")
    assert f"- build {ID_A}: build_log, readme\n" in message and f"- build {ID_B}: build_log, readme\n" in message
    commit = ws.log()[0]
    entries = ws.queue()
    assert {e["status"] for e in entries} == {"published"}
    assert {e["receipt"]["commit"] for e in entries} == {commit}
    record = json.loads((ws.root / f"{ID_A}.json").read_text())["artifacts"]["readme"]
    assert record["status"] == "published"
    assert record["published_to"]["github"]["commit"] == commit
    assert record["published_to"]["github"]["path"] == f"{DIR_A}/readme.md"


def test_republishing_identical_content_makes_no_commit_and_succeeds(ws) -> None:
    session = ws.session()
    ws.run(session)
    assert ws.publish().exit_code == 0
    first = ws.log()
    # Forget the queue entirely: the content is on the branch, so publishing it again is a no-op.
    for path in (ws.root / "state").glob("queue.sqlite3*"):
        path.unlink()
    ws.run(session)
    result = ws.publish()
    assert result.exit_code == 0, result.output
    assert "nothing to commit" not in result.output
    assert ws.log() == first
    assert {e["receipt"]["commit"] for e in ws.queue()} == {first[0]}


def test_a_new_version_replaces_the_old_one_and_drops_its_removed_files(ws) -> None:
    session = ws.session(overview="v1")
    ws.run(session)
    assert ws.publish().exit_code == 0
    assert ws.show(f"{DIR_A}/media/logo.svg")
    ws.session(overview="v2", no_logo=True)
    ws.run(session)
    assert ws.publish().exit_code == 0
    assert ws.show(f"{DIR_A}/readme.md") == f"# {ID_A}\n\nv2\n".encode()
    assert f"{DIR_A}/media/logo.svg" not in ws.tree(), "the old version's attachment is gone"
    assert len(ws.log()) == 2
    assert ws.log(f"{DIR_A}/build_log.md") == ws.log(), "the build log changed too, once per version"


def test_readme_path_only_when_set_and_the_newest_session_wins(ws) -> None:
    ws.run(ws.session(ID_A))
    assert ws.publish().exit_code == 0
    assert "README.md" not in ws.tree()
    ws.configure(readme_path="README.md")
    ws.run(ws.session(ID_B, overview="newest", timestamp="2025-12-03T10:00:00Z"),
           ws.session("sess-old", overview="older", timestamp="2025-11-01T10:00:00Z"))
    assert ws.publish().exit_code == 0
    assert ws.show("README.md") == f"# {ID_B}\n\nnewest\n".encode()
    assert ws.show("media/logo.svg") == b"<svg><!-- newest --></svg>\n"


@pytest.mark.parametrize("order", [("sess-x", "sess-y"), ("sess-y", "sess-x")])
def test_between_sessions_of_the_same_time_the_readme_does_not_depend_on_enqueue_order(ws, order) -> None:
    ws.configure(readme_path="README.md")
    ws.run(*[ws.session(sid, overview=f"from {sid}", timestamp="2025-12-03T10:00:00Z") for sid in order])
    assert ws.publish().exit_code == 0
    assert ws.show("README.md") == b"# sess-y\n\nfrom sess-y\n"


def test_path_template_and_commit_message_are_configurable(ws) -> None:
    ws.configure(path_template="{year}/{month}/{session_id}-{kind}.{ext}", commit_message="sessions: {session_ids}",
                 author_name="Pub Bot", author_email="bot@example.invalid")
    ws.run(ws.session())
    assert ws.publish().exit_code == 0
    assert f"2025/12/{ID_A}-readme.md" in ws.tree()
    assert "2025/12/media/logo.svg" in ws.tree()
    assert ws.git(f"--git-dir={ws.remote}", "log", "-1", "--format=%s|%an|%ae", "main").strip() == \
        f"sessions: {ID_A}|Pub Bot|bot@example.invalid"


@pytest.mark.parametrize("template,message", [
    ("{session_id.__class__}/x.md", "unknown field"),
    ("{nope}/{kind}.{ext}", "unknown field {nope}"),
])
def test_bad_templates_fail_the_batch_with_a_clear_error(ws, template: str, message: str) -> None:
    ws.configure(path_template=template)
    ws.run(ws.session())
    result = ws.publish()
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output
    assert not (ws.remote / "refs" / "heads" / "main").exists()


def test_colliding_paths_fail_only_the_later_item(ws) -> None:
    ws.configure(path_template="flat/{kind}.{ext}")
    ws.run(ws.session(ID_A), ws.session(ID_B))
    result = ws.publish()
    assert result.exit_code == 1
    assert "is also written by queue entry" in result.stderr
    statuses = sorted(e["status"] for e in ws.queue())
    assert statuses == ["failed", "failed", "published", "published"]


def test_two_artifacts_sharing_an_identical_attachment_both_publish(ws) -> None:
    # A devlog and its social post both attach the first screenshot: same path, same bytes.
    session = ws.session(overview="v1", log_logo=True)
    ws.run(session)
    result = ws.publish()
    assert result.exit_code == 0, result.output
    assert {e["status"] for e in ws.queue()} == {"published"}
    assert ws.show(f"{DIR_A}/media/logo.svg") == b"<svg><!-- v1 --></svg>\n"
    # The readme's new version drops the attachment, the build log still carries it: it stays.
    ws.session(overview="v2", log_logo=True, no_logo=True)
    ws.run(session)
    result = ws.publish()
    assert result.exit_code == 0, result.output
    assert ws.show(f"{DIR_A}/media/logo.svg") == b"<svg><!-- v2 --></svg>\n"


def test_users_work_tree_index_and_staged_files_are_never_touched(ws) -> None:
    user = ws.root / "user-repo"
    ws.git("init", "--quiet", "--initial-branch=main", str(user))
    (user / "README.md").write_text("my own readme\n")
    ws.git("add", "README.md", cwd=user)
    ws.git("commit", "--quiet", "-m", "mine", cwd=user)
    (user / "staged.txt").write_text("staged, not for publishing\n")
    ws.git("add", "staged.txt", cwd=user)
    (user / "README.md").write_text("my own readme, edited\n")
    status_before = ws.git("status", "--porcelain", cwd=user)
    ws.configure(remote=str(user), branch="flywheel", readme_path="README.md")
    ws.run(ws.session())
    result = ws.publish()
    assert result.exit_code == 0, result.output
    assert ws.git("status", "--porcelain", cwd=user) == status_before
    assert (user / "README.md").read_text() == "my own readme, edited\n"
    assert ws.git("log", "--format=%s", "main", cwd=user).split("\n")[0] == "mine"
    published = ws.git("ls-tree", "-r", "--name-only", "flywheel", cwd=user).split()
    assert "staged.txt" not in published and "README.md" in published


def test_pushing_to_the_checked_out_branch_of_a_work_tree_is_a_clear_error(ws) -> None:
    user = ws.root / "user-repo"
    ws.git("init", "--quiet", "--initial-branch=main", str(user))
    ws.git("commit", "--quiet", "--allow-empty", "-m", "init", cwd=user)
    ws.configure(remote=str(user), branch="main")
    ws.run(ws.session())
    result = ws.publish()
    assert result.exit_code == 1
    assert "checked out" in result.stderr and "bare repository" in result.stderr
    assert {e["status"] for e in ws.queue()} == {"failed"}


def test_non_fast_forward_is_rebuilt_on_the_new_tip(ws, git_shim) -> None:
    _, script = git_shim
    other = ws.root / "other"
    ws.git("clone", "--quiet", str(ws.remote), str(other))
    ws.git("commit", "--quiet", "--allow-empty", "-m", "seed", cwd=other)
    ws.git("push", "--quiet", "origin", "HEAD:main", cwd=other)
    # Before flywheel's first two pushes, a second clone pushes a commit of its own.
    script.write_text(THEIRS.format(other=other, git=GIT))
    Path(f"{script}.count").write_text("2")
    ws.run(ws.session())
    result = ws.publish()
    assert result.exit_code == 0, result.output
    subjects = ws.git(f"--git-dir={ws.remote}", "log", "--format=%s", "main").split("\n")[:-1]
    assert subjects == ["flywheel: publish 2 artifact(s) from 1 session(s)", "theirs", "theirs", "seed"]
    assert len(ws.log(f"{DIR_A}/readme.md")) == 1
    assert "theirs.txt" in ws.tree(), "the other clone's work is kept"


def test_too_many_rejections_fail_and_the_next_publish_succeeds(ws, git_shim) -> None:
    _, script = git_shim
    other = ws.root / "other"
    ws.git("clone", "--quiet", str(ws.remote), str(other))
    script.write_text(THEIRS.format(other=other, git=GIT))
    Path(f"{script}.count").write_text("5")
    ws.run(ws.session())
    result = ws.publish()
    assert result.exit_code == 1
    assert "non-fast-forward" in result.stderr
    assert ws.cli("queue", "retry", "--failed").exit_code == 0
    assert ws.publish().exit_code == 0
    assert len(ws.log(f"{DIR_A}/readme.md")) == 1


def test_dry_run_shows_paths_and_touches_nothing(ws) -> None:
    ws.run(ws.session())
    before = sorted(p.relative_to(ws.root) for p in (ws.root / "state").rglob("*"))
    result = ws.publish("--dry-run")
    assert result.exit_code == 0, result.output
    assert f"would publish readme of {ID_A} -> github: {DIR_A}/media/logo.svg, {DIR_A}/readme.md" in result.stdout
    assert not (ws.remote / "refs/heads/main").exists()
    assert not (ws.root / "state" / "targets").exists()
    assert {e["status"] for e in ws.queue()} == {"queued"}
    after = sorted(p.relative_to(ws.root) for p in (ws.root / "state").rglob("*"))
    assert [p for p in after if "sqlite3-" not in p.name] == [p for p in before if "sqlite3-" not in p.name]


def test_remote_with_credentials_in_the_url_is_refused_without_echoing_them(ws) -> None:
    ws.configure(remote="https://user:s3cret-pass@github.com/o/r.git")
    ws.run(ws.session())
    result = ws.publish()
    assert result.exit_code == 1
    assert "do not put credentials in the URL" in result.stderr
    assert "s3cret-pass" not in result.output
    assert "s3cret-pass" not in json.dumps(ws.queue())


def test_env_from_a_git_hook_cannot_redirect_publishing_to_the_users_repo(ws, monkeypatch) -> None:
    user = ws.root / "user-repo"
    ws.git("init", "--quiet", "--initial-branch=main", str(user))
    ws.git("commit", "--quiet", "--allow-empty", "-m", "mine", cwd=user)
    monkeypatch.setenv("GIT_DIR", str(user / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(user / ".git" / "index"))
    ws.run(ws.session())
    assert ws.publish().exit_code == 0
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_INDEX_FILE")
    assert ws.git("log", "--format=%s", cwd=user).split() == ["mine"]
    assert len(ws.log()) == 1


def test_hook_answers_only_for_its_own_target(tmp_path) -> None:
    from flywheel_publish_github import plugin

    item = PublishItem(1, "web", "s", "build", "readme", "md", "0" * 64, {"readme.md": b"x"})
    assert plugin.flywheel_publish(target="web", items=[item], config={}, ctx=None) is None
    [target] = plugin.flywheel_targets()
    assert isinstance(target, Target) and target.name == "github" and target.config_schema["required"] == ["remote"]
    assert isinstance(PublishResult(1, True), PublishResult)


def test_invalid_config_is_a_usage_error_naming_the_key(ws) -> None:
    ws.configure(branch="-evil", colour="red")
    result = ws.cli("run", ws.session())
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(
        "flywheel.toml: $.targets.github.branch: must be a git branch name "
        "(letters, digits, '.', '_', '/', '-'; not starting with '-') (got \"-evil\")"
    )


def test_local_remote_path_is_relative_to_the_config(ws) -> None:
    ws.configure(remote="remote.git")
    ws.run(ws.session())
    assert ws.publish().exit_code == 0
    assert len(ws.log()) == 1


def test_dry_run_says_exactly_what_the_real_run_then_does(ws) -> None:
    session = ws.session(overview="v1")
    ws.run(session)
    assert ws.publish().exit_code == 0
    ws.session(overview="v2", no_logo=True)  # a new version that drops the logo: a deletion too
    ws.run(session, ws.session(ID_B, timestamp="2025-12-03T10:00:00Z"))
    dry = ws.cli("publish", "--dry-run", "--json")
    dry_text = ws.cli("publish", "--dry-run")
    real = ws.cli("publish", "--json")
    assert dry.exit_code == real.exit_code == 0, dry.output + real.output
    predicted = {o["id"]: o for o in dry.json()}
    done = {o["id"]: o for o in real.json()}
    assert predicted.keys() == done.keys() and len(done) == 4
    for entry_id, guess in predicted.items():
        assert (guess["status"], done[entry_id]["status"]) == ("would-publish", "published")
        assert guess["receipt"].items() <= done[entry_id]["receipt"].items(), "the dry run said nothing the real run contradicts"
        assert guess["receipt"]["path"] == done[entry_id]["receipt"]["path"]
    [readme_a] = [o["id"] for o in done.values() if (o["kind"], o["session_id"]) == ("readme", ID_A)]
    assert predicted[readme_a]["receipt"]["deletes"] == done[readme_a]["receipt"]["deletes"] == [f"{DIR_A}/media/logo.svg"]
    assert f"{DIR_A}/media/logo.svg" not in ws.tree()
    said = sorted(line.removeprefix("would publish ") for line in dry_text.stdout.splitlines())
    assert said == sorted(f"{o['kind']} of {o['session_id']} -> github: {', '.join(o['receipt']['paths'])}"
                          for o in done.values())


def test_a_failing_remote_is_reported_once_per_batch_not_once_per_artifact(ws, tmp_path) -> None:
    ws.configure(remote=str(tmp_path / "gone.git"))
    ws.run(ws.session(ID_A), ws.session(ID_B, timestamp="2025-12-03T10:00:00Z"))
    result = ws.publish()
    assert result.exit_code == 1
    assert result.stderr.count("git ls-remote failed") == 1, result.stderr
    assert result.stderr.startswith("FAILED 4 entries -> github: target 'github' failed: git ls-remote failed: ")


def test_the_users_global_config_named_by_git_config_global_is_read(ws, monkeypatch) -> None:
    # GIT_CONFIG_GLOBAL names the user's own config file (a credential helper, url.insteadOf live
    # there): it was dropped with the GIT_* variables a hook sets, so git read ~/.gitconfig
    # instead and the push went nowhere ("does not appear to be a git repository").
    _publishes_through_a_global_rewrite(ws, monkeypatch, ws.remote.as_uri(), "https://git.example.invalid/me/published.git",
                                        "https://git.example.invalid/me/published.git")


def test_an_ssh_host_alias_remote_is_an_address_not_a_local_path(ws, monkeypatch) -> None:
    # `work-gh:me/site.git` (a Host alias from ~/.ssh/config, no user@) is scp-like to git: a
    # colon before any slash. flywheel took it for a local folder and pushed to
    # <config folder>/work-gh:me/site.git ("does not appear to be a git repository").
    _publishes_through_a_global_rewrite(ws, monkeypatch, f"{ws.root.as_uri()}/", "work-gh:me/", "work-gh:me/remote.git")


def _publishes_through_a_global_rewrite(ws, monkeypatch, url: str, instead_of: str, remote: str) -> None:
    """Publishing to ``remote`` lands once, through the ``url.<url>.insteadOf`` rule of the
    user's own git config file (GIT_CONFIG_GLOBAL)."""
    config = ws.root / "my-gitconfig"
    config.write_text(f'[url "{url}"]\n\tinsteadOf = {instead_of}\n', encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    ws.configure(remote=remote)
    ws.run(ws.session())
    result = ws.publish()
    assert result.exit_code == 0, result.output
    assert len(ws.log()) == 1


@pytest.mark.parametrize("remote", ["ext::sh -c touch% /tmp/flywheel-ext-ran", "fd::3", "fd::0,1/o/r"])
def test_a_remote_through_a_command_transport_is_refused_when_the_config_is_read(ws, remote) -> None:
    # Regression: `ext::` (git runs the command) and `fd::` were taken for scp-like addresses; git
    # refuses them by default, so the target failed on every retry and never published.
    ws.configure(remote=remote)
    result = ws.cli("run", ws.session())
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line == (f"flywheel: error: {ws.config}: $.targets.github.remote: must be a URL or a path, not starting with "
                    f"'-' nor a command transport (ext::, fd::) (got {json.dumps(remote)})")
    assert ws.cli("queue", "list", "--json").json() == []
