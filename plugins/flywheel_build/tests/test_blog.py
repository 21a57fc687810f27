"""The blog post (issue 13): a story from the session's own words and the commits' bodies,
checked on real repositories shaped like a small session and a 145-commit release."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest


def plain(text: str) -> str:
    """Markdown text without its backslash escapes (core's md_inline escapes brackets)."""
    return re.sub(r"\\(.)", r"\1", text)


def collect_and_run(fw, tmp_path: Path, repo: Path, *args: str, name: str = "session.json") -> tuple[dict, str, dict, dict]:
    """(session, blog post, its artifact record, all artifacts) for ``collect build`` then ``run``."""
    path = tmp_path / name
    result = fw("collect", "build", "--repo", str(repo), "--agent", "Agent-7", "-o", str(path), *args)
    assert result.exit_code == 0, result.output
    run = fw("run", str(path), "-o", str(tmp_path / "out"), "--json")
    assert run.exit_code == 0, run.output
    session = json.loads(path.read_text(encoding="utf-8"))
    records = run.json()[0]["artifacts"]
    folder = tmp_path / "out" / "build" / session["session_id"]
    arts = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}
    return session, arts["blog_post.md"], records["blog_post"], arts


def sentences(text: str) -> list[str]:
    prose = re.sub(r"\(\[`[^`]+`\]\([^)]*\)[^)]*\)|\(`[^`]+`[^)]*\)", "", plain(text))  # citations
    return [s.strip(" *-#") for s in re.split(r"(?<=[.!?:])\s+|\n+", prose) if len(s.strip(" *-#")) >= 40]


def assert_each_sentence_once(text: str) -> None:
    twice = [s for s, n in Counter(sentences(text)).items() if n > 1]
    assert not twice, twice


def assert_numbers_proven(text: str, session: dict, provenance: dict) -> None:
    """Every number the post prints comes from the session: a count or total in the provenance,
    or the session's own text (commit subjects and bodies, the agent's narrative), or the date."""
    body = plain(text)
    own = [c.get("message") or "" for c in session["source_data"]["git_commits"]]
    own += [s["text"] for s in provenance["sentences"]]
    source = session["source_data"]
    own += [source.get("title") or "", source.get("audience") or "", session["session_id"], session["timestamp"][:10]]
    own += [x for key in ("highlights", "lessons", "next_steps") for x in source.get(key) or []]
    own += [source.get("collected", {}).get("rev_range") or ""]
    own += [c["message"].split(":", 1)[-1].strip() for c in session["source_data"]["git_commits"] if c.get("message")]
    for piece in sorted(set(own), key=len, reverse=True):
        for variant in {piece, plain(piece)}:
            if len(variant) > 2:
                body = re.sub(re.escape(variant), " ", body, flags=re.I)
    body = re.sub(r"`[^`]*`|\]\([^)]*\)|#\d+", " ", body)  # hashes, links, issue numbers
    numbers = provenance["numbers"]
    proven = {numbers[k]["value"] for k in ("commits", "files_changed", "lines_added", "lines_removed") if k in numbers}
    if "work_minutes" in numbers:
        minutes = numbers["work_minutes"]["value"]
        proven |= {minutes // 60, minutes % 60, minutes}
    proven |= {len(v) for v in numbers["kinds"].values()} | {len(numbers["merges"]), len(numbers["automated"])}
    proven |= {len(v) for v in provenance["names"]["people"].values()} | {len(v) for v in provenance["names"]["bots"].values()}
    proven.add(len(provenance["names"]["bots"]))
    proven |= {len(s["told"]) for s in provenance["sections"]} | {len(s["counted"]) for s in provenance["sections"]}
    proven |= {len(numbers["kinds"].get(k, [])) - len(s["told"]) for s in provenance["sections"] for k in [s["key"]]}
    # A big session lists more changes by subject, then counts the rest, and sums up by area.
    proven |= {len(numbers["kinds"].get(s["key"], [])) - len(s["told"]) - len(s["listed"]) - d
               for s in provenance["sections"] for d in (0, 1)}
    proven |= {len(hashes) for s in provenance["sections"] for hashes in s.get("areas", {}).values()}
    proven |= {len(s.get("areas", {})) - 5 for s in provenance["sections"]}  # "and 3 more areas"
    proven.add(sum(len(v) for k, v in numbers["kinds"].items() if k not in ("breaking", "removal", "feat", "fix", "perf")))
    proven.add(len(provenance["names"].get("people_not_named", [])))
    people = provenance["names"]["people"]
    proven.add(len({h for name in provenance["names"].get("people_not_named", []) for h in people[name]}))
    proven.add(len(session["source_data"]["git_commits"]))
    for name in [*people, *provenance["names"]["bots"]]:
        body = body.replace(name, " ")
    found = {int(n.replace(",", "")) for n in re.findall(r"(?<![\w.])\d[\d,]*(?![\w.]\d)", body)}
    assert found <= proven, (found - proven, body)


@pytest.fixture(scope="module")
def release(tmp_path_factory, histories) -> Path:
    path = tmp_path_factory.mktemp("release") / "checkout-of-tidyparse"
    histories.release_repo(path)
    return path


def test_two_commit_session_tells_why(fw, tmp_path, histories):
    repo = tmp_path / "my-clone"
    histories.two_commit_repo(repo)
    session, blog, record, arts = collect_and_run(fw, tmp_path, repo, "--rev-range", "v2.3.0..HEAD")
    text = plain(blog)
    lines = text.splitlines()
    assert lines[0] == "# tidyparse: Made the parser accept trailing commas in lists"
    # "v2.3.0..HEAD" would move with HEAD: not shown; the opening names the project, so this line does not.
    assert lines[2] == "*2025-12-02*"
    # The opening says who made what, in the past tense, cited with its issue; then why, from its body.
    feat = session["source_data"]["git_commits"][1]["hash"]
    assert lines[4] == (f"In about 75 minutes of work on tidyparse, Ann Example made the parser accept trailing commas in lists ([`{feat[:7]}`]"
                        f"(https://github.com/example/tidyparse/commit/{feat}); fixes [#412](https://github.com/example/tidyparse/issues/412)).")
    assert lines[6].startswith("Hand-written config files often end a list with a comma, and tidyparse rejected them")
    assert lines[6].endswith("as TOML 1.1 will.")
    assert "2 commits by" not in text  # the counts are the footer's: "*2 commits · ..."
    assert "## Fixes\n\n**Report the line of an unterminated string**. The error pointed at the end of the file" in text
    assert "## Who did what" not in text  # one person: the overview said it
    assert "## What is next" not in text  # nobody said what is next: nothing is made up
    # One author: the build log credits nobody per commit, so the post does not say it does.
    assert "Every commit, with a link, is listed in the [build log](build_log.md)." in text
    assert "my-clone" not in json.dumps(record) and "my-clone" not in "".join(arts.values()).replace(str(repo), "")
    assert record["meta"]["links"] == {"build_log": "build_log.md"}
    assert record["meta"]["provenance"]["names"]["project"] == {"value": "tidyparse", "from": "source_data.project (from pyproject.toml)"}
    assert_each_sentence_once(blog)
    assert_numbers_proven(blog, session, record["meta"]["provenance"])


def test_release_of_many_people_reads_as_a_story(fw, tmp_path, release):
    session, blog, record, arts = collect_and_run(fw, tmp_path, release, "--rev-range", "v2.3.0..v2.4.0")
    text = plain(blog)
    prov = record["meta"]["provenance"]
    commits = session["source_data"]["git_commits"]
    assert len(commits) == 145 and len(blog.splitlines()) < 80
    # The most significant change is the title, its body and breaking note the lede.
    assert text.startswith("# tidyparse 2.4.0: Dropped support for Python 3.8\n\n*2025-11-26 · tidyparse · v2.3.0..v2.4.0*\n\n"
                           "Ann Example dropped support for Python 3.8 ([`"), text[:400]
    assert "\n\nPython 3.8 reached its end of life in October 2024." in text
    assert "Breaking: tidyparse now needs Python 3.9 or newer." in text
    # The overview adds up to every commit, merges counted by their parents.
    overview = next(line for line in text.splitlines() if line.startswith("145 commits by "))
    counts = [int(n) for n in re.findall(r"(\d+) (?:breaking|new|fix|perf|other|merge|automated)", overview)]
    assert sum(counts) == 145, overview
    merges = int(subprocess.run(["git", "-C", str(release), "rev-list", "--merges", "--count", "v2.3.0..v2.4.0"],
                                capture_output=True, text=True, check=True).stdout)
    assert f"{merges} merges" in overview
    assert "Bruno Costa (21)" in overview and "and 2 bots" in overview
    # Sections by theme, each change told with the why from its body, credited, its issue linked.
    assert re.findall(r"^## (.+)$", text, re.M) == [
        "New features", "Fixes", "Performance", "Other notable changes", "Also in this session", "Automated updates", "Who did what"]
    assert "**Keep line numbers right after a CRLF line ending** (lexer). Files saved on Windows reported every error" in text
    assert "Emil Lindqvist and Dana Okafor; fixes [#398](https://github.com/example/tidyparse/issues/398))" in text
    assert re.search(r"Also \d+ more fixes, mostly in loader", text)
    told = [i for s in prov["sections"] for i in s["told"]]
    bodies = {c["hash"]: c["body"] for c in commits}
    assert told and all(bodies[h] for h in told)  # a bare subject is counted, not told
    # Who did what: people by their commits (co-authors too), bots apart.
    assert "- **Dana Okafor**: 20 commits, including “Add `tidyparse.load_many()` for reading several files at once” and " \
           "“keep line numbers right after a CRLF line ending”" in text
    assert "dependabot[bot] (11) and pre-commit-ci[bot] (6)" in text and "**dependabot" not in text
    # The commit list is the build log's.
    assert "Tidy lexer code" not in text and "Tidy lexer code" in plain(arts["build_log.md"])
    assert "checkout-of-tidyparse" not in "".join(arts.values()).replace(str(release), "")
    assert record["tags"][:2] == ["build", "tidyparse"] and "python" in record["tags"]
    assert_each_sentence_once(blog)
    assert_numbers_proven(blog, session, prov)


def test_the_agents_narrative_comes_first(fw, tmp_path, release):
    session, blog, record, _ = collect_and_run(
        fw, tmp_path, release, "--rev-range", "v2.3.0..v2.4.0",
        "--title", "tidyparse 2.4: kinder to hand-written files",
        "--summary", "Trailing commas work now, and errors point at the right line on Windows.\n\nIt also drops Python 3.8.",
        "--highlight", "Trailing commas", "--highlight", "--strict for CI",
        "--lesson", "Windows line endings need their own tests",
        "--next", "A TOML 1.1 mode", "--next", "Faster includes",
        "--audience", "people who maintain configuration files",
    )
    source = session["source_data"]
    assert fw("validate", str(tmp_path / "session.json")).exit_code == 0
    assert source["title"] == "tidyparse 2.4: kinder to hand-written files" and source["highlights"] == ["Trailing commas", "--strict for CI"]
    assert source["next_steps"] == ["A TOML 1.1 mode", "Faster includes"] and source["lessons"] == ["Windows line endings need their own tests"]
    text = plain(blog)
    assert text.startswith("# tidyparse 2.4: kinder to hand-written files\n\n*2025-11-26 · tidyparse · v2.3.0..v2.4.0 · "
                           "for people who maintain configuration files*\n\nTrailing commas work now, and errors point at the right line "
                           "on Windows.\n\nIt also drops Python 3.8.\n\n145 commits by "), text[:500]
    assert "## Highlights\n\n- Trailing commas\n- --strict for CI\n" in text
    assert "## Lessons\n\n- Windows line endings need their own tests\n" in text
    assert "## What is next\n\n- A TOML 1.1 mode\n- Faster includes\n" in text
    # The breaking change is no longer the lede, so its section tells it.
    assert "## Breaking changes\n\n**Drop support for Python 3.8**. Python 3.8 reached its end of life" in text
    prov = record["meta"]["provenance"]
    assert prov["narrative"] == {"title": "source_data.title", "summary": "source_data.summary", "highlights": "source_data.highlights",
                                 "lessons": "source_data.lessons", "next_steps": "source_data.next_steps", "audience": "source_data.audience"}
    assert record["title"] == "tidyparse 2.4: kinder to hand-written files"
    assert_each_sentence_once(blog)
    assert_numbers_proven(blog, session, prov)


def test_a_highlight_that_is_the_title_is_not_listed_again(run_session):
    from flywheel_core.testing import build_session

    # `collect build --highlight A --highlight B` with no --title: A is the title, and was listed
    # under "Highlights" again.
    doc = build_session("build", session_id="s-hl", source_data={
        "highlights": ["Saves go to the user's folder", "Faster autosave"],
        "git_commits": [{"hash": "a" * 40, "message": "feat: x", "author": "Ann"}]})
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    blog = arts["blog_post.md"]
    assert blog.startswith("# Saves go to the user's folder\n") and blog.count("Saves go to the user's folder") == 1
    assert "## Highlights\n\n- Faster autosave\n\n" in blog
    doc["source_data"]["highlights"] = doc["source_data"]["highlights"][:1]
    result, arts, _ = run_session(doc)
    assert "## Highlights" not in arts["blog_post.md"], "one highlight, the title: no section repeating it"


def test_a_session_listing_none_of_its_commits_says_so(run_session):
    from flywheel_core.testing import build_session

    # examples/minimal_build_session.json: counts, no commit listed. The post said "2 commits.".
    doc = build_session("build", session_id="s-min", metadata={"commits": 2, "files_changed": 5},
                        source_data={"git_commits": []})
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    assert "\n\nAgent-Test made 2 commits touching 5 files; the session lists none of them, so this post can't say what " \
           "changed.\n\n" in arts["blog_post.md"], arts["blog_post.md"]


def test_schema_documents_the_narrative(fw):
    result = fw("schema", "build")
    assert result.exit_code == 0, result.output
    props = result.json()["properties"]["source_data"]["properties"]
    for key in ("title", "summary", "highlights", "lessons", "next_steps", "audience"):
        assert props[key]["description"], key
    commit = props["git_commits"]["items"]["properties"]
    assert {"body", "parents", "trailers"} <= set(commit)


def test_top_level_narrative_of_older_sessions_still_counts(run_session):
    from flywheel_core.testing import build_session

    doc = build_session("build", session_id="s-old", summary="Written at the top level.", next_steps=["Ship it"],
                        source_data={"git_commits": [{"hash": "a" * 40, "message": "feat: x", "author": "Ann"}]})
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    assert "\nWritten at the top level.\n" in arts["blog_post.md"] and "## What is next\n\n- Ship it" in arts["blog_post.md"]


README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("name", ["two-commit", "release"])
def test_readme_examples_are_what_flywheel_writes(fw, tmp_path, histories, request, name):
    """The README shows real output; FLYWHEEL_UPDATE_GOLDEN=1 rewrites it (then read the diff)."""
    import os

    if name == "two-commit":
        histories.two_commit_repo(tmp_path / "tidyparse")
        _, blog, _, _ = collect_and_run(fw, tmp_path, tmp_path / "tidyparse", "--rev-range", "v2.3.0..HEAD")
    else:
        _, blog, _, _ = collect_and_run(fw, tmp_path, request.getfixturevalue("release"), "--rev-range", "v2.3.0..v2.4.0")
    fence = "`" * max(4, 1 + max((len(r) for r in re.findall(r"`+", blog)), default=0))
    block = f"<!-- example:{name} -->\n{fence}markdown\n{blog.rstrip()}\n{fence}\n<!-- /example:{name} -->"
    text = README.read_text(encoding="utf-8")
    current = re.search(rf"<!-- example:{name} -->.*?<!-- /example:{name} -->", text, re.S)
    assert current, f"README.md has no <!-- example:{name} --> block"
    if os.environ.get("FLYWHEEL_UPDATE_GOLDEN") == "1":
        README.write_text(text[: current.start()] + block + text[current.end() :], encoding="utf-8")
    else:
        assert current.group(0) == block
