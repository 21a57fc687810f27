"""The build schema fragment and validation warnings, through `flywheel validate`; light imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def doc(**fields):
    base = {"session_id": "v-1", "session_type": "build", "timestamp": "2025-12-02T05:20:00Z", "agent_id": "A"}
    base.update(fields)
    return base


def validate(fw, tmp_path, data):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return fw("validate", path)


@pytest.mark.parametrize(
    "data",
    [
        doc(metadata={"files_changed": ["a.py", "b.py"], "commits": 2}),
        doc(metadata={"files_changed": 8, "lines_added": 450.0}, source_data={"repo_path": None, "git_commits": []}),
        doc(source_data={"git_commits": [{"hash": "abc", "extra": {"x": 1}, "message": None, "files": []}], "whatever": 1}),
        doc(source_data={"files_changed": ["systems\\output_flywheel\\x.py"], "repo_path": "D:/Repo"}),
    ],
)
def test_lenient_shapes_agents_write(fw, tmp_path, data):
    result = validate(fw, tmp_path, data)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "data, path",
    [
        (doc(metadata={"commits": -1}), "$.metadata.commits"),
        (doc(metadata={"files_changed": "many"}), "$.metadata.files_changed"),
        (doc(source_data={"git_commits": [{"message": "no hash"}]}), "$.source_data.git_commits[0].hash"),
        (doc(source_data={"git_commits": [{"hash": "a", "insertions": "3"}]}), "$.source_data.git_commits[0].insertions"),
        (doc(source_data={"git_commits": [{"hash": "a", "files": "a.py"}]}), "$.source_data.git_commits[0].files"),
        (doc(source_data={"git_commits": "abc"}), "$.source_data.git_commits"),
        (doc(source_data={"git_commits": [{"hash": "  ", "message": "x"}]}), "$.source_data.git_commits[0].hash"),
    ],
)
def test_errors_name_the_json_path(fw, tmp_path, data, path):
    result = validate(fw, tmp_path, data)
    assert result.exit_code == 2
    assert f"s.json: {path}: " in result.stderr
    assert "Traceback" not in result.output


def test_warnings_for_disagreeing_totals(fw, tmp_path):
    data = doc(
        metadata={"commits": 3, "lines_added": 10},
        source_data={"git_commits": [
            {"hash": "a1", "insertions": 4, "timestamp": "yesterday"},
            {"hash": "a1", "insertions": 5, "timestamp": "2025-12-02 05:15:00 +0000Z"},
        ]},
    )
    result = validate(fw, tmp_path, data)
    assert result.exit_code == 0
    err = result.stderr
    assert "$.metadata.commits: warning: metadata.commits is 3 but 2 commits are listed" in err
    assert "$.source_data.git_commits[1].hash: warning: commit 'a1' is listed twice" in err
    assert "$.source_data.git_commits[0].timestamp: warning: not an ISO 8601" in err
    assert "git_commits[1].timestamp" not in err  # git's --date=iso form is understood
    assert "$.metadata.lines_added: warning: metadata.lines_added is 10 but the listed commits add up to 9" in err


def test_plugin_import_is_light():
    code = (
        "import sys, flywheel_build.plugin as p; p.flywheel_session_types(); p.flywheel_template_dirs();"
        "heavy = {'jinja2', 'jsonschema', 'markdown_it', 'twitter_text', 'regex', 'httpx'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_collect_command_is_registered(fw):
    result = fw("collect", "build", "--help")
    assert result.exit_code == 0 and "--rev-range" in result.stdout


def test_many_duplicates_give_few_warnings(fw, tmp_path):
    result = validate(fw, tmp_path, doc(source_data={"git_commits": [{"hash": "a1"}] * 5000}))
    assert result.exit_code == 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 6, lines
    assert lines[-1].endswith("$.source_data.git_commits: warning: 4994 more commits are listed twice")


@pytest.mark.parametrize(
    "data, line",
    [
        (doc(metadata={"files_changed": 10**30}),
         "$.metadata.files_changed: 1000000000000000000000000000000 is greater than the maximum of 1000000000000"),
        (doc(source_data={"files_changed": -3}), "$.source_data.files_changed: -3 is less than the minimum of 0"),
        (doc(metadata={"files_changed": ["a.py", 7]}), "$.metadata.files_changed[1]: expected string, got number 7"),
    ],
)
def test_a_count_or_list_says_what_is_wrong_with_the_value_it_has(fw, tmp_path, data, line):
    # Regression: files_changed (a count, or a list of paths) of 10**30 said "expected array,
    # got number": the list alternative's complaint, not that the count is too large.
    result = validate(fw, tmp_path, data)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{tmp_path / 's.json'}: {line}"


BIG = "A paragraph of the agent's summary. " * 30_000  # 1 MB: the same path as the 50 MB found


@pytest.mark.parametrize(
    "data, path, limit",
    [
        (doc(source_data={"summary": BIG}), "$.source_data.summary", "100,000"),
        (doc(summary=BIG), "$.summary", "100,000"),
        (doc(source_data={"title": "t" * 1001}), "$.source_data.title", "1,000"),
        (doc(source_data={"highlights": ["fine", BIG]}), "$.source_data.highlights[1]", "10,000"),
        (doc(highlights=["fine", BIG]), "$.highlights[1]", "10,000"),
        (doc(source_data={"lessons": [{"title": "x", "description": BIG}]}), "$.source_data.lessons[0].description", "10,000"),
    ],
)
def test_absurdly_long_prose_is_refused_with_its_path(fw, tmp_path, data, path, limit):
    # Regression: a 50 MB summary, title or highlight became a 50 MB blog post (16 s, 277 MB).
    # Like other absurd values (a duration over 10,000,000 minutes) it is refused, in one line.
    result = validate(fw, tmp_path, data)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{tmp_path / 's.json'}: {path}: text of ") and line.endswith(f"characters is too long (at most {limit})")


def test_too_many_highlights_are_refused(fw, tmp_path):
    result = validate(fw, tmp_path, doc(source_data={"highlights": ["one more"] * 1001}))
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("$.source_data.highlights: 1,001 items are too many (at most 1,000)")
