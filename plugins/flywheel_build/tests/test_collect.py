"""``flywheel collect build`` against real repositories, checked against git's own numbers."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

SESSION_ID = re.compile(r"^build-[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def independent_numbers(repo, *revs: str) -> dict[str, int]:
    """What plain `git log --numstat` / `--name-only` say about a range, parsed the simple way."""
    revs = revs or ("HEAD",)
    count = int(repo.git("rev-list", "--count", *revs, "--").strip())
    added = removed = 0
    for line in repo.git("log", "--numstat", "--format=", *revs, "--").splitlines():
        if not line.strip():
            continue
        a, d, _ = line.split("\t", 2)
        added += 0 if a == "-" else int(a)
        removed += 0 if d == "-" else int(d)
    names = repo.git("-c", "core.quotePath=false", "log", "--name-only", "--format=", *revs, "--")
    paths = {line for line in names.splitlines() if line.strip()}
    return {"commits": count, "files_changed": len(paths), "lines_added": added, "lines_removed": removed}


@pytest.fixture
def history(git_repo):
    """Renames, a binary file, unicode authors and paths, an empty commit, a merge, hostile text."""
    repo = git_repo()
    repo.commit("feat: initial import", {"app.py": "print('hi')\n" * 5, "docs/guide.md": "# Guide\n", "naïve file.txt": "a\nb\n"},
                when="2025-12-02T03:00:00Z")
    (repo.path / "src").mkdir()
    repo.git("mv", "app.py", "src/app.py")
    repo.commit("refactor(core): move app into src", {"src/app.py": "print('hi')\n" * 5 + "print('more')\n"},
                when="2025-12-02T03:30:00Z")
    repo.commit("feat: add logo", {"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00binary\x00data"}, when="2025-12-02T04:00:00Z",
                author=("Zoë 山田", "zoe@example.com"))
    repo.commit("chore: empty marker", when="2025-12-02T04:10:00Z", allow_empty=True)
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("fix: repair guide\n\nBody line one.\n\x1e\t1\t2\tfake-numstat-line\n",
                {"docs/guide.md": "# Guide\n\nFixed.\n"}, when="2025-12-02T04:20:00Z")
    repo.git("checkout", "-q", "main")
    repo.commit("docs: readme", {"README.md": "# Demo\n"}, when="2025-12-02T04:30:00Z")
    env = repo.env("2025-12-02T04:40:00Z", "Ann Example", "ann@example.com")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge branch 'topic'", "topic", env=env)
    repo.commit("feat: delete text file and add [x](javascript:alert(1)) <script>x</script> {{ 7*7 }}",
                {"naïve file.txt": "a\nb\nc\n"}, when="2025-12-02T05:15:00Z")
    return repo


def collect(fw, *args):
    result = fw("collect", "build", *args)
    assert "Traceback" not in result.output
    return result


def test_counts_equal_git_log_numstat(fw, history):
    result = collect(fw, "--repo", history.path)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    meta = doc["metadata"]
    assert {k: meta[k] for k in ("commits", "files_changed", "lines_added", "lines_removed")} == independent_numbers(history)

    commits = doc["source_data"]["git_commits"]
    assert [c["hash"] for c in commits] == history.git("rev-list", "HEAD").split()  # newest first
    by_subject = {c["message"]: c for c in commits}
    moved = by_subject["refactor(core): move app into src"]
    assert moved["files"] == ["src/app.py"] and "app.py" not in moved["files"]
    assert (moved["insertions"], moved["deletions"]) == (1, 0)
    logo = by_subject["feat: add logo"]
    assert logo["files"] == ["logo.png"] and logo["insertions"] == logo["deletions"] == 0
    assert logo["author"] == "Zoë 山田" and logo["email"] == "zoe@example.com"
    assert by_subject["chore: empty marker"]["files"] == []
    merge = by_subject["Merge branch 'topic'"]
    assert merge["merge"] is True and merge["files"] == [] and merge["insertions"] == 0
    assert sum(1 for c in commits if c.get("merge")) == 1
    fix = by_subject["fix: repair guide"]
    assert fix["files"] == ["docs/guide.md"] and "fake-numstat-line" in fix["body"]
    assert fix["timestamp"] == "2025-12-02T04:20:00+00:00"

    assert SESSION_ID.match(doc["session_id"])
    # No project metadata and no remote: no name in the id (the folder's name is not the project's).
    assert re.match(rf"^build-20251202051500-{commits[0]['hash'][:7]}-[0-9a-f]{{8}}$", doc["session_id"])
    assert "project" not in doc["source_data"]
    assert doc["timestamp"] == "2025-12-02T05:15:00Z"
    # Nobody said who ran it (no --agent, no user.name): not the newest commit's author, and a warning.
    assert doc["agent_id"] == "unknown" and "say who ran the session with --agent" in result.stderr
    assert "duration_minutes" not in meta  # the span of the commits is no measure of work
    assert doc["source_data"]["repo_path"] == str(history.path)
    assert "remote_url" not in doc["source_data"]


def test_output_file_validates(fw, history, tmp_path):
    out = tmp_path / "session.json"
    result = collect(fw, "--repo", history.path, "-o", out, "--agent-id", "Agent-7", "--duration", "90")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["agent_id"] == "Agent-7" and doc["metadata"]["duration_minutes"] == 90
    check = fw("validate", out)
    assert check.exit_code == 0, check.output


def test_agent_id_comes_from_the_config_file_git_config_global_names(fw, history, own_git_home, monkeypatch, tmp_path):
    # GIT_CONFIG_GLOBAL names the user's own git config: it was dropped with the GIT_* variables
    # a hook sets, so the agent was ~/.gitconfig's user.name (someone else's, on a shared machine).
    (own_git_home / ".gitconfig").write_text("[user]\n\tname = Name In Home\n", encoding="utf-8")
    chosen = tmp_path / "chosen-gitconfig"
    chosen.write_text("[user]\n\tname = Name Chosen\n", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(chosen))
    doc = json.loads(collect(fw, "--repo", history.path).stdout)
    assert doc["agent_id"] == "Name Chosen"


def test_ranges_dates_and_author(fw, history):
    first, third = history.git("rev-list", "--reverse", "HEAD").split()[0:3:2]
    doc = json.loads(collect(fw, "--repo", history.path, "--rev-range", f"{first}..HEAD").stdout)
    assert doc["metadata"]["commits"] == independent_numbers(history, f"{first}..HEAD")["commits"]
    assert doc["metadata"] == independent_numbers(history, f"{first}..HEAD")

    doc = json.loads(collect(fw, "--repo", history.path, "--since", "2025-12-02T04:05:00Z", "--until", "2025-12-02T04:35").stdout)
    assert [c["message"] for c in doc["source_data"]["git_commits"]] == ["docs: readme", "fix: repair guide", "chore: empty marker"]

    doc = json.loads(collect(fw, "--repo", history.path, "--author", "Zoë").stdout)
    assert [c["message"] for c in doc["source_data"]["git_commits"]] == ["feat: add logo"]

    doc = json.loads(collect(fw, "--repo", history.path, "--rev-range", third).stdout)
    assert doc["metadata"]["commits"] == 3


def test_user_git_config_does_not_change_the_counts(fw, history, tmp_path, monkeypatch):
    expected = independent_numbers(history)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[log]\n\tshowRoot = false\n\tabbrevCommit = true\n\tdate = relative\n[diff]\n\trenames = false\n"
        "\trelative = true\n\tnoprefix = true\n[color]\n\tdiff = always\n[format]\n\tpretty = oneline\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    doc = json.loads(collect(fw, "--repo", history.path).stdout)
    assert {k: doc["metadata"][k] for k in expected} == expected
    moved = {c["message"]: c for c in doc["source_data"]["git_commits"]}["refactor(core): move app into src"]
    assert moved["files"] == ["src/app.py"]


def test_orphan_branch_says_to_name_a_revision(fw, history):
    history.git("checkout", "-q", "--orphan", "fresh")
    result = collect(fw, "--repo", history.path)
    assert result.exit_code == 2 and "the current branch has no commits yet; name one with --rev-range" in result.stderr
    assert json.loads(collect(fw, "--repo", history.path, "--rev-range", "main").stdout)["metadata"]["commits"] == 8


def test_unreadable_repo_paths_are_usage_errors(fw, tmp_path):
    (tmp_path / "loop_a").symlink_to(tmp_path / "loop_b")
    (tmp_path / "loop_b").symlink_to(tmp_path / "loop_a")
    for path in (tmp_path / "loop_a", tmp_path / ("a" * 5000)):
        result = collect(fw, "--repo", path)
        assert result.exit_code == 2, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and "internal error" not in result.stderr


def test_dates_before_1970(fw, history):
    doc = json.loads(collect(fw, "--repo", history.path, "--since", "1960-01-01").stdout)
    assert doc["metadata"]["commits"] == independent_numbers(history, "HEAD")["commits"]
    result = collect(fw, "--repo", history.path, "--until", "1960-01-01")
    assert result.exit_code == 2 and "no commits match" in result.stderr


def test_relative_since(fw, git_repo):
    repo = git_repo()
    repo.commit("feat: old", {"a.py": "1\n"}, when="2020-01-01T00:00:00Z")
    recent = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    repo.commit("feat: recent", {"a.py": "2\n"}, when=recent)
    doc = json.loads(collect(fw, "--repo", repo.path, "--since", "2 hours ago").stdout)
    assert [c["message"] for c in doc["source_data"]["git_commits"]] == ["feat: recent"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--since=-x"], "--since '-x'"),
        (["--until=--output=x"], "--until '--output=x'"),
        (["--since", "not a date at all"], "not a date git understands"),
        (["--rev-range=--output=OUT"], "--rev-range '--output=OUT'"),
        (["--rev-range", "HEAD..--output=OUT"], "is not a revision or range"),
        (["--rev-range", "no-such-branch"], "'no-such-branch' is not a commit"),
        (["--rev-range", "HEAD..HEAD"], "no commits match"),
        (["--since", "2031-01-01"], "no commits match"),
        # git's approxidate would read these as other dates and collect the wrong commits:
        (["--since", "9999-12-31T23:59:59-05:00"], "is out of range"),
        (["--since", "2025-02-30"], "--since: '2025-02-30' is not a valid timestamp"),
        (["--until", "2025-13-01"], "--until: '2025-13-01' is not a valid timestamp"),
        (["--since", "2 weeks from now"], "git reads a time to come as one past"),
        (["--since", "01/02/2025"], "day and month could be either way round"),
        (["--author=--all"], "--author"),
        (["--author", "["], "--author '[': not a valid pattern"),
        (["--duration", "nan"], "--duration nan: expected minutes"),
        (["--duration", "inf"], "--duration inf: expected minutes"),
        (["--duration", "-5"], "--duration -5: expected minutes"),
    ],
)
def test_hostile_and_bad_options(fw, history, tmp_path, args, message):
    sentinel = tmp_path / "written-by-git"
    args = [a.replace("OUT", str(sentinel)) for a in args]
    result = collect(fw, "--repo", history.path, *args)
    assert result.exit_code == 2, result.output
    assert message.replace("OUT", str(sentinel)) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not sentinel.exists()


def test_bad_repositories(fw, git_repo, tmp_path):
    result = collect(fw, "--repo", tmp_path / "missing")
    assert result.exit_code == 2 and "no such directory" in result.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    result = collect(fw, "--repo", plain)
    assert result.exit_code == 2 and "not a git repository" in result.stderr
    empty = git_repo("empty")
    result = collect(fw, "--repo", empty.path)
    assert result.exit_code == 2 and "no commits yet" in result.stderr
    result = collect(fw, "--repo", tmp_path / "plain" / "file.txt")
    assert result.exit_code == 2


def test_another_users_repository_says_how_to_trust_it(fw, git_repo):
    import os

    repo = git_repo()
    repo.commit("feat: one", {"a.py": "1\n"})
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user needs root")
    os.chown(repo.path, 65534, 65534)
    if subprocess.run(["git", "-C", str(repo.path), "rev-parse"], capture_output=True).returncode == 0:
        pytest.skip("this git trusts every repository (safe.directory = *)")
    result = collect(fw, "--repo", repo.path)
    assert result.exit_code == 2, result.output
    assert "detected dubious ownership" in result.stderr
    assert f"(to trust it: git config --global --add safe.directory {repo.path.resolve()})" in result.stderr


def test_shallow_clone_leaves_out_the_boundary(fw, history, tmp_path):
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{history.path}", str(clone)], check=True)
    result = collect(fw, "--repo", clone)
    assert result.exit_code == 0, result.output
    assert "shallow clone" in result.stderr
    commits = json.loads(result.stdout)["source_data"]["git_commits"]
    assert len(commits) == 2
    boundary = [c for c in commits if c.get("shallow_boundary")]
    assert len(boundary) == 1 and boundary[0]["files"] == [] and boundary[0]["insertions"] == 0
    newest = commits[0]
    assert newest["files"] == ["naïve file.txt"] and newest["insertions"] == 1
    # A range reaching past where the clone's history stops says why it is not there.
    result = collect(fw, "--repo", clone, "--rev-range", "HEAD~5..HEAD")
    assert result.exit_code == 2 and "'HEAD~5' is not a commit" in result.stderr
    assert "it is a shallow clone: `git fetch --unshallow` (or --deepen=N) brings more history" in result.stderr


def test_worktree_of_a_shallow_clone_leaves_out_the_boundary(fw, history, tmp_path):
    clone, tree = tmp_path / "shallow", tmp_path / "tree"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{history.path}", str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "worktree", "add", "-q", str(tree), "HEAD"], check=True, capture_output=True)
    result = collect(fw, "--repo", tree)
    assert result.exit_code == 0 and "shallow clone" in result.stderr, result.output
    commits = json.loads(result.stdout)["source_data"]["git_commits"]
    assert [bool(c.get("shallow_boundary")) for c in commits] == [False, True]


def test_bare_clone_and_symmetric_range(fw, history, tmp_path):
    bare = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(history.path), str(bare)], check=True)
    doc = json.loads(collect(fw, "--repo", bare).stdout)
    assert doc["metadata"]["commits"] == 8
    first = history.git("rev-list", "--reverse", "HEAD").split()[0]
    doc = json.loads(collect(fw, "--repo", history.path, "--rev-range", f"{first}...HEAD").stdout)
    assert doc["metadata"]["commits"] == independent_numbers(history, f"{first}...HEAD")["commits"] == 7


@pytest.mark.parametrize(
    "name, content",
    [
        ("pyproject.toml", '[project]\nname = "gadget"\ndescription = "Small tools"\n'),
        ("package.json", '{"name": "gadget", "description": "Small tools"}'),
        ("Cargo.toml", '[package]\nname = "gadget"\ndescription = "Small tools"\n'),
        ("setup.cfg", "[metadata]\nname = gadget\ndescription = Small tools\n"),
    ],
)
def test_project_name_is_the_same_wherever_collected(fw, git_repo, tmp_path, name, content):
    """From the checkout, its .git folder, a worktree and a bare mirror, all named differently."""
    repo = git_repo("my-checkout")
    repo.commit("feat: one", {"a.py": "1\n", name: content})
    repo.write(name, "uncommitted edits do not count\n")
    tree, bare = tmp_path / "other-folder", tmp_path / "mirror.git"
    repo.git("worktree", "add", "-q", str(tree), "HEAD")
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(bare)], check=True)
    docs = [json.loads(collect(fw, "--repo", where).stdout) for where in (repo.path, repo.path / ".git", tree, bare)]
    assert {d["session_id"] for d in docs} == {docs[0]["session_id"]}
    assert docs[0]["session_id"].startswith("build-gadget-")
    assert {json.dumps(d["source_data"]["project"]) for d in docs} == {
        json.dumps({"name": "gadget", "description": "Small tools", "source": name})}


def test_project_name_from_the_remote_and_never_the_folder(fw, git_repo, tmp_path, run_session):
    repo = git_repo("clone")
    repo.commit("feat: one", {"a.py": "1\n", "pyproject.toml": "[tool.black]\nline-length = 100\n"})
    repo.git("remote", "add", "origin", "git@github.com:acme/widget-lib.git")
    doc = json.loads(collect(fw, "--repo", repo.path).stdout)
    assert doc["source_data"]["project"] == {"name": "widget-lib", "source": "remote"}
    assert doc["session_id"].startswith("build-widget-lib-")
    repo.git("remote", "set-url", "origin", str(tmp_path / "somewhere" / "local-copy"))
    doc = json.loads(collect(fw, "--repo", repo.path).stdout)
    assert "project" not in doc["source_data"]
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    text = "".join(arts.values())
    assert "clone" not in text.lower().replace("git clone", ""), text  # not the folder, not a tag
    assert "local-copy" not in text


def test_project_named_like_the_writers_placeholder(fw, git_repo):
    """The commits are spliced into the JSON at a placeholder; a project (from pyproject.toml,
    repository content) named exactly so once got the commits, and git_commits the placeholder."""
    repo = git_repo()
    for name in ("\\u0000flywheel-commits\\u0000", "\\u0000flywheel-commits\\u0000\\u0000"):
        repo.commit("feat: one", {"pyproject.toml": f'[project]\nname = "{name}"\ndescription = "{name}"\n'})
        doc = json.loads(collect(fw, "--repo", repo.path).stdout)
        assert [c["message"] for c in doc["source_data"]["git_commits"]][-1] == "feat: one"
        assert doc["source_data"]["project"]["name"] == name.replace("\\u0000", "\0")


def test_project_metadata_that_is_a_symlink_or_huge_is_not_read(fw, git_repo, tmp_path):
    repo = git_repo()
    secret = tmp_path / "secret.toml"
    secret.write_text('[project]\nname = "leaked"\n', encoding="utf-8")
    (repo.path / "pyproject.toml").symlink_to(secret)
    repo.commit("feat: one", {"package.json": '{"name": "' + "x" * 2_000_000 + '"}'})
    doc = json.loads(collect(fw, "--repo", repo.path).stdout)
    assert "project" not in doc["source_data"]


def test_remote_credentials_are_stripped(fw, history):
    history.git("remote", "add", "origin", "https://bob:ghp_abcdefghijklmnopqrstuvwxyz0123@github.com/acme/demo.git?x=1")
    doc = json.loads(collect(fw, "--repo", history.path).stdout)
    assert doc["source_data"]["remote_url"] == "https://github.com/acme/demo.git"
    assert "ghp_" not in json.dumps(doc)


def test_long_and_unicode_messages(fw, git_repo):
    repo = git_repo("ünïcødé repo")
    long_subject = "feat: " + "très long 🚀 " * 800
    repo.commit(long_subject, {"x.rs": "fn main() {}\n"}, author=("Имя Фамилия", "i@example.com"))
    result = collect(fw, "--repo", repo.path)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["source_data"]["git_commits"][0]["message"] == long_subject.strip()
    assert SESSION_ID.match(doc["session_id"])


def test_parse_log_handles_renames_binary_and_tricky_text():
    from flywheel_build.gitlog import parse_log

    data = (
        b"\x1eaaa\x00p1\x00A\x00a@x\x002025-01-01T00:00:00+00:00\x00subject \x1e with RS\x00body\n\x00"
        b"\n3\t1\t\x00old name\x00new name\x00-\t-\tbin.dat\x002\t0\t\x1estrange\x00"
        b"\x1ebbb\x00p1 p2\x00B\x00b@x\x002025-01-01T00:00:00+00:00\x00Merge\x00"
    )
    first, merge = parse_log(data)
    assert first["files"] == ["new name", "bin.dat", "\x1estrange"]
    assert (first["insertions"], first["deletions"]) == (5, 1)
    assert first["message"] == "subject \x1e with RS" and first["body"] == "body"
    assert merge["merge"] is True and merge["files"] == []


def test_git_runs_no_program_named_by_the_repository(fw, history, tmp_path, run_session):
    """A hostile repository's config names programs; plain git runs one, flywheel runs none."""
    sentinel = tmp_path / "sentinel"
    evil = tmp_path / "evil.sh"
    evil.write_text(f"#!/bin/sh\necho \"$0 $*\" >> '{sentinel}'\ncat \"$1\" 2>/dev/null\nexit 0\n")
    evil.chmod(0o755)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in ("post-checkout", "pre-commit", "post-index-change", "reference-transaction", "pre-auto-gc"):
        (hooks / hook).write_text(f"#!/bin/sh\necho {hook} >> '{sentinel}'\n")
        (hooks / hook).chmod(0o755)
    # A commit carrying a signature makes `git log` run gpg.program when log.showSignature is on.
    tree = history.git("rev-parse", "HEAD^{tree}").strip()
    raw = (
        f"tree {tree}\nparent {history.head()}\nauthor Eve <e@x> 1764652500 +0000\ncommitter Eve <e@x> 1764652500 +0000\n"
        "gpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\n\nfeat: signed\n"
    )
    signed = history.git("hash-object", "-t", "commit", "-w", "--stdin", input=raw.encode()).strip()
    history.git("update-ref", "HEAD", signed)
    history.write(".gitattributes", "* diff=evil\n")
    for key, value in [
        ("core.hooksPath", str(hooks)), ("core.fsmonitor", str(evil)), ("log.showSignature", "true"),
        ("gpg.program", str(evil)), ("diff.evil.textconv", str(evil)), ("diff.external", str(evil)),
        ("core.pager", f"{evil} pager"), ("pager.log", "true"), ("core.sshCommand", str(evil)),
    ]:
        history.git("config", key, value)

    subprocess.run(["git", "log", "--numstat", "-1"], cwd=history.path, capture_output=True)
    assert sentinel.exists(), "precondition: plain git log runs the repository's gpg.program"
    sentinel.unlink()

    result = collect(fw, "--repo", history.path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source_data"]["git_commits"][0]["message"] == "feat: signed"
    doc = {
        "session_id": "hostile", "session_type": "build", "timestamp": "2025-12-02T05:20:00Z", "agent_id": "A",
        "metadata": {"duration_minutes": 120}, "source_data": {"repo_path": "repo"},
    }
    run, arts, _ = run_session(doc)
    assert run.exit_code == 0, run.output
    assert "feat: signed" in arts["build_log.md"] or "signed" in arts["blog_post.md"]
    assert not sentinel.exists(), sentinel.read_text()


@pytest.mark.parametrize("key", ["diff.orderFile", "mailmap.file", "core.attributesFile"])
def test_git_reads_no_file_named_by_the_repository_config(fw, history, tmp_path, key):
    """A repository's config naming a FIFO (or /dev/zero) as a file git reads whole hung `collect`."""
    import os
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    opened, done = threading.Event(), threading.Event()

    def writer() -> None:  # whoever opens the FIFO to read gets an empty file at once, and it is told
        while not done.is_set():
            fd = os.open(fifo, os.O_WRONLY)
            if not done.is_set():
                opened.set()
            os.close(fd)

    expected = independent_numbers(history)  # plain git would read the FIFO: ask it first
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    history.git("config", key, str(fifo))
    result = collect(fw, "--repo", history.path)
    assert result.exit_code == 0, result.output
    assert {k: json.loads(result.stdout)["metadata"][k] for k in expected} == expected
    done.set()
    os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # let the writer go
    thread.join(5)
    assert not opened.is_set(), f"git read {key}"


def test_the_users_diff_algorithm_does_not_change_the_counts(fw, git_repo, tmp_path, monkeypatch):
    # Found by search: on these two texts histogram counts +4/-8 where myers (git's default) counts +2/-6.
    before, after = "edb}eeadbcabe}debda}dcedacedca", "edb}eecadcae}dedadcedcecca"
    repo = git_repo()
    repo.commit("first", {"f.txt": "\n".join(before) + "\n"})
    repo.commit("second", {"f.txt": "\n".join(after) + "\n"})
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[diff]\n\talgorithm = histogram\n", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    assert repo.git("log", "-1", "--numstat", "--format=").split()[:2] == ["4", "8"], "histogram is in effect"
    doc = json.loads(collect(fw, "--repo", repo.path).stdout)
    second = {c["message"]: c for c in doc["source_data"]["git_commits"]}["second"]
    assert (second["insertions"], second["deletions"]) == (2, 6)


def test_a_repository_whose_config_includes_a_fifo_is_refused_not_waited_on(fw, git_repo, monkeypatch):
    # A tarball can hold a FIFO and a config that includes it: every git command there waited for
    # a writer for ever. The first, instant one now has a deadline (shortened here).
    import os

    repo = git_repo()
    repo.commit("feat: one", {"a.py": "1\n"})
    os.mkfifo(repo.path / ".git" / "evil")
    with open(repo.path / ".git" / "config", "a", encoding="utf-8") as config:
        config.write("[include]\n\tpath = evil\n")
    monkeypatch.setattr("flywheel_build.git.PROBE_TIMEOUT", 1.0)
    monkeypatch.setattr("flywheel_build.gitlog.PROBE_TIMEOUT", 1.0)
    result = collect(fw, "--repo", repo.path)
    assert result.exit_code == 2, result.output
    assert f"{repo.path}: git did not answer within 1 s: does the repository's config (an [include] path)" in result.stderr
