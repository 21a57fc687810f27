"""Which project a build session is about, and where in it the work happened, as a stranger reads them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from flywheel_build.project import project_from_path

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
LONG = "Agent_Cellphone_V2_Repository"


def example(**source: Any) -> dict[str, Any]:
    """The bundled example (a session of another machine), with ``source_data`` fields replaced."""
    doc = json.loads((EXAMPLES / "build_session.json").read_text(encoding="utf-8"))
    doc["source_data"].update(source)
    return doc


def blog_opening(blog: str) -> str:
    """The post's first paragraph after the date line, without citations or Markdown escapes."""
    first = blog.split("\n\n")[2]
    return re.sub(r"\\(.)", r"\1", re.sub(r" \(`[^`]+`\)", "", first))


# -- the last part of repo_path ---------------------------------------------------------------


@pytest.mark.parametrize("path, name", [
    ("D:/Agent_Cellphone_V2_Repository", LONG),
    ("D:\\Agent_Cellphone_V2_Repository", LONG),  # Windows separators
    ("C:\\code\\gadget\\", "gadget"),  # and a trailing one
    ("/srv/work/gadget/", "gadget"),
    ("/srv/git/gadget.git", "gadget"),  # a bare repository
    ("~/gadget/.git", "gadget"),  # the git dir of a work tree: its parent
    ("file:///opt/code/gizmo", "gizmo"),
    ("checkout-folder", "checkout-folder"),  # relative, as written
    ("D:/games/my game", "my game"),
    ("/srv/pixel.garden", "pixel.garden"),
    ("/home/alice/src/Three.js", "Three.js"),  # a project inside a home folder is still the project
])
def test_the_last_part_of_repo_path_is_the_name_as_written(path, name):
    found = project_from_path(path)
    assert found is not None and found.name == name and found.source == "repo_path"


@pytest.mark.parametrize("path", [
    # A home folder names its user, not a project.
    "/home/alice", "/home/alice/", "/home/alice/.git", "/Users/alice", "C:\\Users\\alice", "C:/Documents and Settings/alice",
    "/var/home/alice", "/export/home/alice", "~", "~alice", "/root",
    # A drive or the root.
    "D:/", "D:", "C:\\", "/", "file:///", "",
    # Generic folders: any repository's.
    "src", "/home/alice/src", "D:/path/to/repo", "D:/Repo", "C:\\workspace", "/srv/project", "/Users/bob/Desktop",
    "/home/ann/Documents/", ".", "..", "repo.git",
    # Temporary folders, and names a script chose.
    "/tmp/gadget", "/var/folders/x1/T/gadget", "C:\\Users\\ann\\AppData\\Local\\Temp\\gadget", "C:/Temp/gadget",
    "/srv/tmpk3_x9a2b", "/srv/pytest-of-ann", "/srv/0b0e1e7c-1b2a-4c3d-9e8f-0123456789ab",
    # Not a name as written: markup, link syntax, code, too long, only digits.
    "D:/<script>", "D:/[x](javascript:alert(1))", "D:/`rm -rf`", "D:/" + "a" * 65, "D:/2024",
])
def test_a_folder_that_names_no_project_is_refused(path):
    assert project_from_path(path) is None, path


def test_this_machines_own_temp_folder_names_no_project(monkeypatch):
    # As tempfile.gettempdir() finds it (TMPDIR first), without importing tempfile on every run.
    monkeypatch.setenv("TMPDIR", "/scratch/ci-runner/")
    assert project_from_path("/scratch/ci-runner/gadget") is None
    assert project_from_path("/usr/tmp/gadget") is None
    assert project_from_path("/scratch/gadget").name == "gadget"


def test_the_example_names_its_project_and_where_the_work_happened(run_session):
    result, arts, _ = run_session(example())
    assert result.exit_code == 0, result.output
    blog = arts["blog_post.md"]
    assert blog.startswith(f"# {LONG}: Added a Phase 3 publication system\n\n*2025-12-02*\n"), blog
    assert blog_opening(blog) == (f"In a two-hour session on {LONG}, Agent-7 added a Phase 3 publication system: a publish queue "
                                  "manager and a GitHub publisher, then a website publisher, both in "
                                  "systems/output_flywheel/publication.")
    assert arts["readme.md"].startswith(f"# {LONG}\n"), "not '# Build session <uuid>'"
    assert arts["build_log.md"].startswith(f"# Build log: {LONG}, 2025-12-02\n")
    posts = json.loads(arts["social_post.json"])
    for network, post in posts.items():
        assert post[0].startswith(f"In a two-hour session on {LONG}, Agent-7 added"), network
        assert "systems/" not in post[0], "the folder is the blog post's: posts name the project"
        assert "#AgentCellphone" not in post[0], "an identifier is no hashtag"
    assert "D:/" not in "".join(arts.values()), "only the last part of the path is published"


def test_provenance_says_where_the_name_and_the_folder_come_from(fw, tmp_path):
    path = tmp_path / "build_session.json"
    path.write_text(json.dumps(example()), encoding="utf-8")
    result = fw("run", path, "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    provenance = result.json()[0]["artifacts"]["blog_post"]["meta"]["provenance"]
    assert provenance["names"]["project"] == {"value": LONG, "from": "source_data.repo_path (its last part)"}
    first, *_, where = provenance["sentences"]
    assert first == {"text": f"In a two-hour session on {LONG}, Agent-7 added a Phase 3 publication system: a publish queue "
                             "manager and a GitHub publisher",
                     "from": "commit abc123def456 subject and files; metadata.duration_minutes; "
                             "project: source_data.repo_path (its last part)"}
    assert where == {"text": ", both in systems/output_flywheel/publication",
                     "from": "the folder every file of source_data.git_commits[].files is in"}


@pytest.mark.parametrize("repo_path", ["/home/alice", "/home/alice/", "C:\\Users\\alice", "/Users/alice/.git"])
def test_a_home_folder_never_names_the_project_nor_shows_its_user(run_session, repo_path):
    result, arts, _ = run_session(example(repo_path=repo_path))
    assert result.exit_code == 0, result.output
    text = "".join(arts.values())
    assert "alice" not in text, repo_path
    assert arts["readme.md"].startswith("# Build session a1b2c3d4-e5f6-7890-abcd-ef1234567890\n")
    assert arts["blog_post.md"].startswith("# Added a Phase 3 publication system\n")
    assert blog_opening(arts["blog_post.md"]).startswith("In a two-hour session, Agent-7 added")


@pytest.mark.parametrize("repo_path", ["D:/", "C:\\", "/"])
def test_a_drive_root_names_no_project(run_session, repo_path):
    result, arts, _ = run_session(example(repo_path=repo_path))
    assert result.exit_code == 0, result.output
    assert arts["readme.md"].startswith("# Build session a1b2c3d4-e5f6-7890-abcd-ef1234567890\n")


@pytest.mark.parametrize("where", ["top", "metadata", "source_data"])
def test_a_name_the_session_gives_wins_over_repo_path(run_session, where):
    doc = example()
    if where == "top":
        doc["project"] = "Cellphone"
    elif where == "metadata":
        doc["metadata"]["project"] = "Cellphone"
    else:
        doc["source_data"]["project"] = {"name": "Cellphone", "source": "pyproject.toml"}
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    assert arts["readme.md"].startswith("# Cellphone\n") and LONG not in "".join(arts.values())
    assert blog_opening(arts["blog_post.md"]).startswith("In a two-hour session on Cellphone, Agent-7 added")
    # A word is a hashtag people use.
    assert json.loads(arts["social_post.json"])["mastodon"][0].endswith("#Cellphone #Python #BuildInPublic")


def test_a_remote_names_the_project_before_the_folder(run_session):
    result, arts, _ = run_session(example(remote_url="https://github.com/acme/cellphone.git"))
    assert result.exit_code == 0, result.output
    assert arts["readme.md"].startswith("# cellphone\n")


# -- hostile names -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "[x](javascript:alert(1))", "`rm -rf /` ``x``", "*bold* _x_ #1"])
def test_a_hostile_project_name_is_shown_as_written_and_does_nothing(run_session, name):
    """Escaped, not refused: the session named it so (a folder's name, unlike this, must be plain)."""
    from markdown_it import MarkdownIt

    doc = example()
    doc["project"] = name
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    markdown = MarkdownIt("commonmark").disable(["html_inline", "html_block"])  # as the site renders: raw HTML off
    for artifact in ("blog_post.md", "readme.md", "build_log.md", "social_post.md"):
        html = markdown.render(arts[artifact])
        assert "<script" not in html and "<a " not in html.replace('<a href="build_log.md">', ""), (artifact, html)
        assert "<em>bold</em>" not in html and "<em>x</em>" not in html, (artifact, html)
    # A reader sees the name as written, as the README's title; backticks make code, as in a
    # commit subject ("Add `load()`"): inert.
    title = MarkdownIt("commonmark").render(arts["readme.md"]).split("</h1>")[0].removeprefix("<h1>")
    if "`" in name:
        assert title == "<code>rm -rf /</code> <code>x</code>", title
    else:
        assert title.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == name, title
    # Posts print it as written but inert: no link, no hashtag made of it.
    from flywheel_core.testing import social_entities

    for network, posts in json.loads(arts["social_post.json"]).items():
        entities = social_entities(posts[0], network)
        assert not entities.get("link") and set(entities.get("hashtag", [])) <= {"Python", "BuildInPublic"}, (network, posts)


def test_a_project_name_of_300_characters_is_refused_not_cut(run_session):
    doc = example()
    doc["project"] = "Cellphone " * 30
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    assert ("work_session.json: $.project: warning: a project name of 299 characters is too long to be one (at most 64); "
            "the artifacts do not use it") in result.output
    # The next way of naming it is used: the last part of repo_path; the long name appears nowhere, cut or whole.
    assert arts["readme.md"].startswith(f"# {LONG}\n")
    assert "Cellphone Cellphone" not in "".join(arts.values()) and "…" not in arts["readme.md"]


# -- where the work happened -------------------------------------------------------------------


def commit(sha: str, message: str, files: list[str] | None) -> dict[str, Any]:
    return {"hash": sha * 12, "message": message, "author": "Ann", "timestamp": f"2025-12-02T05:1{sha}:00Z",
            **({"files": files} if files is not None else {})}


@pytest.mark.parametrize("files, said", [
    # One change: the folder after what was made, before its citation.
    ([["src/shop/csv_exporter.py"]], "Ann added a CSV exporter in src/shop."),
    ([["src/shop/export/csv_exporter.py", "src/shop/export/tests/test_csv.py"]], "Ann added a CSV exporter in src/shop/export."),
    # Two changes: "both in", after them.
    ([["app/pub/github_publisher.py"], ["app/pub/web_publisher.py"]],
     " publisher, both in app/pub."),
])
def test_a_folder_every_file_is_in_is_said_once(run_session, files, said):
    names = ["GitHub publisher", "web publisher"] if len(files) == 2 else ["CSV exporter"]
    commits = [commit(str(i + 1), f"feat: add {n}", f) for i, (n, f) in enumerate(zip(names, files))]
    doc = {"session_id": "s-where", "session_type": "build", "timestamp": "2025-12-02T05:20:00Z", "agent_id": "Ann",
           "metadata": {}, "source_data": {"git_commits": commits[::-1]}}
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    assert blog_opening(arts["blog_post.md"]).endswith(said), arts["blog_post.md"]
    assert arts["blog_post.md"].count(" in src/shop") + arts["blog_post.md"].count(" in app/pub") <= 1


@pytest.mark.parametrize("files", [
    [["src/csv_exporter.py"]],  # one folder deep: "in src" says little
    [["csv_exporter.py"]],  # at the top
    [["src/shop/csv_exporter.py"], ["docs/export.md"]],  # spread out
    [["src/shop/csv_exporter.py"], ["src/cart/web_publisher.py"]],  # only "src" in common
    [["src/shop/csv_exporter.py"], None],  # a commit that lists no file may be anywhere
    [["src/<b>/csv_exporter.py"]],  # a folder name that is markup
])
def test_no_folder_is_said_when_the_files_do_not_share_one(run_session, files):
    commits = [commit(str(i + 1), f"feat: add thing {i}", f) for i, f in enumerate(files)]
    doc = {"session_id": "s-where", "session_type": "build", "timestamp": "2025-12-02T05:20:00Z", "agent_id": "Ann",
           "metadata": {}, "source_data": {"git_commits": commits}}
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    opening = blog_opening(arts["blog_post.md"])
    assert " in src" not in opening and " in docs" not in opening and "both in" not in opening, opening


def test_the_folder_of_a_located_repository_names_it(tmp_path):
    """Found here from a relative repo_path ("."): the repository's folder names it, unless that
    folder is a temporary one (as every test repository is)."""
    from flywheel_core.testing import as_session

    from flywheel_build.facts import build_facts

    session = as_session(example(repo_path="."))
    assert build_facts(session, {"repo_path": ".", "folder": "/srv/code/gizmo"}).project.name == "gizmo"
    assert build_facts(session, {"repo_path": ".", "folder": "/srv/code/gizmo/.git"}).project.name == "gizmo"
    assert build_facts(session, {"repo_path": ".", "folder": str(tmp_path / "gizmo")}).named is False
    # The path the session wrote, before it was scrubbed, tells a home folder ("/export/home/alice"
    # scrubs to "alice"): the unscrubbed one is what decides.
    scrubbed = as_session(example(repo_path="alice"))
    assert build_facts(scrubbed, {"repo_path": "/export/home/alice"}).named is False


# -- a repository on this machine ------------------------------------------------------------


@pytest.mark.parametrize("readme, name", [
    ("# Space Explorer\n\nA game.\n", "Space Explorer"),
    ('<p align="center"><img src="logo.png"></p>\n\n[![CI](https://x/badge.svg)](https://x)\n\n# Gadget #\n', "Gadget"),
    ("# Gadget: tools for everything\n", None),  # a sentence, not a name
    ("# [Gadget](https://evil.example)\n", None),
    ("Some intro first.\n\n# Gadget\n", None),  # its first text is no title
    ("# Build session s-001\n", None),  # what flywheel wrote for an unnamed project
])
def test_a_readme_title_that_is_a_name_names_the_project(run_session, git_repo, readme, name):
    repo = git_repo("repo")  # "repo", in a temporary folder: the folder names nothing
    sha = repo.commit("feat: add the engine", {"engine.py": "x = 1\n", "README.md": readme})
    doc = {"session_id": "s-001", "session_type": "build", "timestamp": "2025-12-02T05:20:00Z", "agent_id": "Ann",
           "metadata": {}, "source_data": {"repo_path": "repo", "git_commits": [{"hash": sha, "message": "feat: add the engine"}]}}
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    # No flywheel region in it: the README is written anew, under the old one's title when that is a name.
    assert arts["readme.md"].startswith(f"# {name or 'Build session s-001'}\n"), arts["readme.md"]
    if name:
        assert blog_opening(arts["blog_post.md"]).startswith(f"In about 30 minutes of work on {name}, Ann Example added")


@pytest.mark.parametrize("authors, lead", [(True, "Working on"), (False, "In")])
def test_without_a_duration_the_opening_still_names_the_project(run_session, authors, lead):
    doc = example()
    del doc["metadata"]["duration_minutes"]
    for c in doc["source_data"]["git_commits"]:
        del c["timestamp"]  # nor an estimate from commit times
        if not authors:
            del c["author"]
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    who = "Agent-7" if authors else "the session's commits"
    assert blog_opening(arts["blog_post.md"]) == (f"{lead} {LONG}, {who} added a Phase 3 publication system: a publish queue "
                                                  "manager and a GitHub publisher and a website publisher, both in "
                                                  "systems/output_flywheel/publication.")


def test_a_long_name_leaves_the_title_to_the_change(run_session):
    name = "Cellphone-Agent-Orchestration-And-Publication-Platform-V2"  # 57 characters: a name, but a long one
    result, arts, _ = run_session(example(repo_path=f"D:/{name}"))
    assert result.exit_code == 0, result.output
    blog = arts["blog_post.md"]
    assert blog.startswith("# Added a Phase 3 publication system\n\n*2025-12-02*\n"), "the title stays short"
    assert blog_opening(blog).startswith(f"In a two-hour session on {name}, Agent-7 added"), "the opening names it"
