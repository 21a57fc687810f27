"""What read badly in posts made from real histories (flask, requests, pytest, Pillow, this repository), fixed.

Commits are shaped like the real ones: their subjects, bodies and files are those of the
public histories named in each test (trimmed), and ``collect build`` output fields."""

from __future__ import annotations

import hashlib
import json
import re

from flywheel_core.testing import build_session

from flywheel_build.facts import short_title
from flywheel_build.story import explain


def commit(n: int, message: str, files: list[str], author: str = "Ann", body: str = "", **extra) -> dict:
    return {"hash": hashlib.sha1(f"{n}{message}".encode()).hexdigest(), "message": message, "body": body, "author": author,
            "timestamp": f"2025-12-{1 + n // 1440 % 28:02d}T{n // 60 % 24:02d}:{n % 60:02d}:00Z", "files": files,
            "insertions": 10, "deletions": 2, "parents": ["0" * 40], **extra}


def session(commits: list[dict], **fields) -> dict:
    return build_session("build", session_id="s-real", agent_id="Agent-7", project="demo",
                         source_data={"git_commits": commits, "remote_url": "https://github.com/acme/demo.git"}, **fields)


def blog_of(run_session, doc: dict) -> tuple[str, dict]:
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    return arts["blog_post.md"], arts


# -- the title -------------------------------------------------------------------------------


def test_a_long_subject_becomes_a_title_cut_at_a_clause_not_mid_word() -> None:
    # This repository's own commit bf83562: 157 characters, once "... under TIDs derived…".
    subject = ("flywheel-publish-bluesky: the bluesky target (app.bsky.feed.post records written with putRecord under TIDs "
               "derived from the queue entry, threads, images, exactly once)")
    assert short_title(subject) == "flywheel-publish-bluesky: the bluesky target"
    assert short_title("Add CLI options reference documentation (#13930)") == "Add CLI options reference documentation"
    assert short_title("Surface filter-promoted unraisable warnings directly (#14263) (#14499)") == \
        "Surface filter-promoted unraisable warnings directly"
    # An aside goes before the clause after it: this repository's own 4da46d2 was titled with the
    # fragment "commits whose subject says nothing", cut at its "(".
    subject = ("commits whose subject says nothing (fix, wip, update) are counted with what they say, not told as "
               "changes (a fix/wip/update session was titled 'dream-os: Fixed')")
    assert short_title(subject, 78) == "commits whose subject says nothing are counted with what they say"
    assert short_title("keep `f (x)` as code in a subject that is long enough to need cutting somewhere, really", 60) \
        == "keep `f (x)` as code in a subject that is long enough to…"
    # No clause boundary at all: a word boundary and "…", never a cut word.
    title = short_title("word " * 40)
    assert title.endswith("…") and title[:-1].split() == ["word"] * len(title[:-1].split())


def test_the_title_of_a_post_is_shortened_and_the_commit_cited_in_the_opening(run_session) -> None:
    subject = ("A build blog post made from no commit and no narrative says meta.nothing_to_say, and the web target keeps it "
               "as a draft (the new provenance made it look non-empty)")
    blog, _ = blog_of(run_session, session([commit(1, subject, ["plugins/flywheel_build/flywheel_build/generate.py"],
                                                    author="Seed maintainers")]))
    assert blog.startswith("# demo: A build blog post made from no commit and no narrative says meta.nothing_to_say\n"), blog
    assert "…" not in blog.splitlines()[0]
    # Not "The change in the title is `abc`, by X." nor "X made the change in the title": the opening says
    # who made what; a subject that does not start with a verb is quoted, not pasted as a sentence.
    assert "in the title" not in blog
    # The project's name (its remote's) and the folder its one file is in, said once each.
    assert re.search(r"\nIn about 30 minutes of work on demo, Seed maintainers committed “A build blog post made from no commit and no "
                     r"narrative says meta\.nothing_to_say” in plugins/flywheel_build/flywheel_build \(\[`[0-9a-f]{7}`\]\(https://github\.com/acme/demo/commit/[0-9a-f]{40}\)\)\.\n",
                     blog), blog


def test_a_test_only_add_is_not_the_new_feature_in_the_title(run_session) -> None:
    # psf/requests v2.32.3..v2.32.4: "Add CA constraint to test CA" touches only tests/certs.
    commits = [
        commit(1, "Add CA constraint to test CA", ["tests/certs/expired/ca/ca.cnf", "tests/certs/expired/ca/ca.crt"],
               body="Otherwise recent versions of OpenSSL reject it as an invalid CA certificate."),
        commit(2, "Add conditional string encoding based on urllib3 major version", ["src/requests/utils.py", "tests/test_requests.py"]),
        commit(3, "Add netrc file search information to authentication documentation (#6876)", ["docs/user/authentication.rst"]),
        commit(4, "Drop pypy 3.9 and add pypy 3.11 support", [".github/workflows/run-tests.yml", "HISTORY.md"]),
    ]
    blog, arts = blog_of(run_session, session(commits))
    assert blog.startswith("# demo: Added a conditional string encoding based on urllib3 major version\n"), blog
    # The opening tells who made the changes whose bodies say no why; no section tells them again.
    assert "\nIn about 35 minutes of work on demo, Ann added a conditional string encoding based on urllib3 major version ([`" in blog, blog
    assert ") and dropped pypy 3.9 and added pypy 3.11 support ([`" in blog, blog
    assert "## New features" not in blog and "## Removed and deprecated" not in blog and "## Documentation" not in blog
    assert "## Tests\n\n**Add CA constraint to test CA**. Otherwise recent versions of OpenSSL reject it" in blog


# -- bodies: whole sentences only ------------------------------------------------------------


def test_a_body_is_told_in_whole_sentences() -> None:
    # This repository's 269b1a1: one 600-character first sentence; explained whole or not at all.
    run_on = "storage.py (rows, states, " + "the interface a backend implements, " * 20 + "leases on the row)"
    assert explain(f"{run_on}, sqlite.py, blobs.py.\n\nImport circles are broken now.") == "Import circles are broken now."
    # python-pillow 9ebebde: a sentence that introduces a command the post does not show.
    assert explain("Created using the following command with OpenSSL 3.4.0:\n\n    openssl req ...") is None
    assert explain("Regenerated the test certificates. Created with this command:\n\n    openssl req") == \
        "Regenerated the test certificates."
    # pytest e96f81f: a body that goes on from the subject ("... during teardown" / "on a fixture that ...").
    assert explain("on a fixture that hasn't already been requested.\n\nFixes #12882") is None
    assert explain("Closes #14011 Closes #10819") is None
    long_two = "This is the first sentence of a body and it is fine. " + "Then a second one that goes on " * 15 + "."
    assert explain(long_two) == "This is the first sentence of a body and it is fine."


def test_no_detail_in_a_post_ends_mid_sentence(run_session) -> None:
    body = "Import circles broken: " + "config names types.PluginRegistry, " * 30 + "a Protocol one layer down."
    commits = [commit(i, f"feat: feature {i}", [f"src/demo/m{i}.py"], body=body if i == 0 else "Short and whole. It says why.")
               for i in range(12)]
    blog, _ = blog_of(run_session, session(commits))
    assert "…" not in blog, blog


# -- the rest, summed up by area -------------------------------------------------------------


def test_the_rest_is_summed_up_by_area_not_as_n_other_changes(run_session) -> None:
    # This repository's last 60 commits: most are plain subjects in plugins/* and flywheel_core.
    areas = {"flywheel_core": 12, "plugins/flywheel_trade": 6, "plugins/flywheel_aria": 3, "docs": 2}
    commits, n = [commit(0, "feat: the headline", ["flywheel_core/cli.py"])], 0
    for area, count in areas.items():
        for _ in range(count):
            n += 1
            commits.append(commit(n, f"Rework part {n} of the data", [f"{area}/data/part{n}.json"]))
    commits.append(commit(99, "Tidy the root", ["pyproject.toml"]))
    blog, _ = blog_of(run_session, session(commits))
    assert "\n1 internal change, 2 documentation changes and 21 other changes.\n\nBy area: flywheel_core (12 changes), plugins/flywheel_trade (6), " \
           "plugins/flywheel_aria (3), docs (2) and top-level files (1).\n" in blog, blog


def test_area_counts_are_in_the_provenance(fw, tmp_path) -> None:
    commits = [commit(i, f"Rework part {i}", [f"flywheel_core/m{i}.json"]) for i in range(10)]
    commits += [commit(20 + i, f"Rework trade {i}", [f"plugins/flywheel_trade/flywheel_trade/t{i}.json"]) for i in range(3)]
    path = tmp_path / "s.json"
    path.write_text(json.dumps(session(commits)), encoding="utf-8")
    result = fw("run", path, "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    sections = result.json()[0]["artifacts"]["blog_post"]["meta"]["provenance"]["sections"]
    counted = next(s for s in sections if s["key"] == "counted")
    assert {k: len(v) for k, v in counted["areas"].items()} == {"flywheel_core": 10, "plugins/flywheel_trade": 2}  # 1 is the title
    assert set(counted["areas"]["plugins/flywheel_trade"]) <= set(counted["counted"])


# -- a big release names its features and fixes ----------------------------------------------


def test_a_big_release_lists_its_features_by_subject(run_session) -> None:
    # python-pillow 12.1.1..12.2.0: features without bodies were "Also 21 more new features" and nothing else.
    subjects = ["Added wrap()", "Added height argument to wrap()", "Add CMYK palettes", "Allow None extents in C setimage",
                "Add FontFile.to_imagefont().", "Added scaling argument to wrap()"]
    commits = [commit(i, s, [f"src/PIL/Image{i}.py"], author="Andrew Murray") for i, s in enumerate(subjects)]
    commits += [commit(100 + i, f"Fix mypy finding{'s' if i % 2 else ''}", ["src/PIL/x.py"], author="David Lord") for i in range(4)]
    commits += [commit(200 + i, f"Updated docs part {i}", [f"docs/p{i}.rst"], author=f"Person {i}") for i in range(30)]
    blog, _ = blog_of(run_session, session(commits))
    features = blog[blog.index("## New features"):blog.index("## Fixes")]
    assert features.count("\n- ") == 5, features  # the title's feature is not listed again
    for s in subjects[:5]:
        assert f"- {s}" in features
    fixes = blog[blog.index("## Fixes"):]
    # "Fix mypy finding" three times is listed once; the copies are counted.
    assert fixes.count("- Fix mypy finding (") == 1 and fixes.count("- Fix mypy findings (") == 1
    assert "Also 2 more fixes, all in PIL." in fixes, fixes
    assert "**Person 0**" not in blog and "- and 30 more people (30 commits)" in blog
    # Thirty people with one commit each are counted, not named one by one.
    assert "by Andrew Murray (6), David Lord (4) and 30 more people:" in blog, blog


# -- who did what ----------------------------------------------------------------------------


def test_a_bot_without_bot_in_brackets_is_a_bot_and_counts_agree(run_session) -> None:
    # pytest 9.0.3..9.1.1: "pytest bot" authored or co-authored 35 "[automated] Update plugin list" commits.
    commits = [commit(i, "[automated] Update plugin list", ["doc/en/reference/plugin_list.rst"], author="pytest bot") for i in range(3)]
    commits += [commit(10 + i, "[automated] Update plugin list (#14617)", ["doc/en/reference/plugin_list.rst"],
                       author="github-actions[bot]", trailers={"Co-authored-by": ["Pierre <p@x>", "pytest bot <pytestbot@x>"]})
                for i in range(2)]
    commits += [commit(20, "fix: a real fix", ["src/_pytest/a.py"], author="Pierre")]
    blog, arts = blog_of(run_session, session(commits))
    assert "pytest bot (3)" in blog and "**pytest bot**" not in blog, blog  # in "Automated updates", not "Who did what"
    # Pierre wrote 1 commit and co-authored 2: 3 in the overview and in "Who did what" alike.
    assert "of work on demo, Pierre fixed a real fix ([`" in blog, blog
    assert "by Pierre (3) and 2 bots" in arts["readme.md"], arts["readme.md"]
