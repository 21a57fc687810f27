"""``scrub_paths``: every absolute local path of any system becomes its last part.

The session plugins render from text passed through it (see tests/test_artifacts_read_well.py
for the whole-pipeline check over every artifact and site page).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flywheel_core import Session, scrub_paths, scrub_session
from flywheel_core.testing import local_paths

CANARY = "zzcanary"
PATHS = local_paths(CANARY)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("before", [" ", "\\", "\\\\", "(", "`", "=", '"', "<"])
def test_every_kind_of_path_is_reduced_to_its_name(path, before):
    # found by the devlog property test: "\\C:\\Users\\..." got through. (After a letter,
    # "." or ":" a POSIX path is relative or part of a URL: "km/h", "./a/b", "https://h/a".)
    text = scrub_paths(f"Saved to{before}{path}.")
    assert CANARY not in text and text.endswith(".")
    assert text.startswith("Saved to")


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/a/b and http://localhost:8000/api/x",
        "src/app/main.py, ./x/y, ../a/b, km/h, and/or, 2025/12/02, ~5/10",
        "</div> and 3/4 done",
    ],
)
def test_urls_relative_paths_and_fractions_stay(text):
    assert scrub_paths(text) == text


def test_home_folder_itself_becomes_tilde():
    assert scrub_paths("my home is /home/alice, or C:\\Users\\bob.") == "my home is ~, or ~."


def test_a_scrubbed_session_keeps_its_shape_and_the_original_is_untouched():
    session = Session(
        session_id="s1", session_type="build", timestamp="2025-12-02T05:20:00Z", agent_id=f"C:\\Users\\{CANARY}",
        metadata={"files_changed": [f"/home/{CANARY}/a.py"], "commits": 2},
        source_data={"repo_path": f"D:/{CANARY}/repo", "git_commits": [{"hash": "abc1234", "files": ["src/a.py"]}]},
        extra={"summary": f"Saved to ~/{CANARY}/x.", "tags": ["ok"]},
    )
    shown = scrub_session(session)
    assert CANARY not in repr(shown)
    assert shown.agent_id == "~" and shown.metadata == {"files_changed": ["a.py"], "commits": 2}
    assert shown.source_data == {"repo_path": "repo", "git_commits": [{"hash": "abc1234", "files": ["src/a.py"]}]}
    assert shown.extra == {"summary": "Saved to x.", "tags": ["ok"]}
    assert session.source_data["repo_path"] == f"D:/{CANARY}/repo", "the original still says where the repository is"


def test_every_kind_of_path_has_a_separator():
    # scrub_paths leaves text without "/" or "\\" as it is, unsearched: no path it knows lacks one.
    from flywheel_core.localpaths import _LOCAL_PATH

    for path in PATHS:
        found = _LOCAL_PATH.search(f"Saved to {path}.")
        assert found and ("/" in found.group() or "\\" in found.group()), path
        bare = path.replace("/", "").replace("\\", "")
        assert not _LOCAL_PATH.search(f"Saved to {bare}."), bare


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*"aZ:~?.$-_ \\/C", "file:", "UNC", "home", "Users", "tmp", "é"]), max_size=20).map("".join))
def test_no_path_is_found_without_a_separator(text):
    from flywheel_core.localpaths import _LOCAL_PATH

    assert _LOCAL_PATH.search(text.replace("/", "").replace("\\", "")) is None
