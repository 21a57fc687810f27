"""Commit parsing, section mapping and marker insertion, without flywheel around them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flywheel_changelog_md.changelog import MARKER, TYPE_SECTION, insert_entry, parse_commit, sections_of


@pytest.mark.parametrize(
    ("message", "section", "scope", "breaking"),
    [
        ("feat: add export", "Added", "", False),
        ("feat(api)!: drop v1 routes", "Added", "api", True),
        ("fix(queue): retry failed entries\n\nBREAKING CHANGE: new table", "Fixed", "queue", True),
        ("fix(security): escape titles", "Security", "", False),
        ("security: rotate keys", "Security", "", False),
        ("perf: cache renders", "Changed", "", False),
        ("refactor: split module", "Changed", "", False),
        ("deprecate: old flag", "Deprecated", "", False),
        ("remove: the legacy queue", "Removed", "", False),
        ("Feat: capitalised type", "Added", "", False),
    ],
)
def test_user_facing_types_map_to_sections(message, section, scope, breaking):
    change = parse_commit({"message": message, "hash": "ABCDEF1234567"})
    assert change == {
        "section": section,
        "scope": scope,
        "description": message.split(": ", 1)[1].split("\n")[0],
        "breaking": breaking,
        "hash": "abcdef1",
    }


@pytest.mark.parametrize(
    "commit",
    [
        {"message": "docs: typo"},
        {"message": "chore(deps): bump"},
        {"message": "Merge branch 'main'"},
        {"message": "feat:"},
        {"message": ""},
        {"message": None},
        {"hash": "abc1234"},
        "feat: not a dict",
    ],
)
def test_everything_else_is_left_out(commit):
    assert parse_commit(commit) is None


def test_a_hash_that_is_not_hex_is_not_shown():
    assert parse_commit({"message": "fix: x", "hash": "--exec=rm"})["hash"] == ""


def test_sections_follow_keep_a_changelog_order_once_each():
    commits = [
        {"message": "fix: b"},
        {"message": "feat: a"},
        {"message": "docs: c"},
        {"message": "feat: a"},  # cherry-picked again
        {"message": "security: d"},
    ]
    assert [(name, [c["description"] for c in cs]) for name, cs in sections_of(commits)] == [
        ("Added", ["a"]),
        ("Fixed", ["b"]),
        ("Security", ["d"]),
    ]
    assert sections_of(None) == [] and sections_of("feat: x") == []


BASE = f"# Changelog\n\n{MARKER}\n\n## [1.0.0] - 2025-01-01\n\n- First.\n"


def test_insert_below_the_marker_newest_first():
    once = insert_entry(BASE, "s1", "## one\n")
    twice = insert_entry(once, "s2", "## two\n")
    assert twice == (
        f"# Changelog\n\n{MARKER}\n\n"
        "<!-- changelog:session s2 -->\n## two\n<!-- changelog:end s2 -->\n\n"
        "<!-- changelog:session s1 -->\n## one\n<!-- changelog:end s1 -->\n\n"
        "## [1.0.0] - 2025-01-01\n\n- First.\n"
    )


def test_inserting_again_replaces_the_entry_of_that_session():
    once = insert_entry(BASE, "s1", "## one\n")
    assert insert_entry(once, "s1", "## one\n") == once
    changed = insert_entry(once, "s1", "## one, amended\n")
    assert changed.count("changelog:session s1") == 1 and "## one, amended\n" in changed
    assert changed.replace("## one, amended", "## one") == once


def test_marker_at_the_end_of_the_file():
    assert insert_entry(f"# Changelog\n{MARKER}", "s", "x") == (
        f"# Changelog\n{MARKER}\n\n<!-- changelog:session s -->\nx\n<!-- changelog:end s -->\n"
    )


def test_no_marker_is_an_error():
    with pytest.raises(ValueError, match="changelog:insert"):
        insert_entry("# Changelog\n", "s", "x")


def test_readme_table_is_the_mapping():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    documented = {}
    for types, section in re.findall(r"^\| (`.+?) \| (\w+) \|$", readme, re.M):
        for kind in re.findall(r"`(\w+)`", types.split(" or any type")[0]):
            documented[kind] = section
    assert documented == TYPE_SECTION
