"""`flywheel validate`: the shared examples pass; a corpus of malformed files fails cleanly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from core_support import EXAMPLES, FLYWHEEL, ROOT
from flywheel_core.testing import build_session, run_cli

SHARED = ROOT.parent / "shared" / "examples"


def example_files() -> list[Path]:
    files = sorted(EXAMPLES.glob("*.json"))
    assert len(files) >= 4
    return files


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_every_bundled_example_is_valid(path: Path, empty_host) -> None:
    result = run_cli(["validate", path], host=empty_host)
    assert result.exit_code == 0, result.output
    assert f"{path}: valid" in result.stdout


def test_bundled_examples_are_the_shared_ones() -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside this checkout")
    for shared in SHARED.glob("*.json"):
        assert (EXAMPLES / shared.name).read_bytes() == shared.read_bytes(), shared.name


def _doc(**changes) -> dict:
    doc = build_session("build")
    for key, value in changes.items():
        if value is _DELETE:
            doc.pop(key)
        else:
            doc[key] = value
    return doc


_DELETE = object()

# (name, file content, expected JSON path in the error line)
CORPUS: list[tuple[str, bytes | dict | list | str, str]] = [
    ("empty", b"", "$"),
    ("whitespace", b"  \n\t ", "$"),
    ("truncated", b'{"session_id": "x", "session_type": "build", ', "$"),
    ("truncated-string", b'{"session_id": "x', "$"),
    ("trailing-comma", b'{"session_id": "x",}', "$"),
    ("single-quotes", b"{'session_id': 'x'}", "$"),
    ("comment", b'{"session_id": "x" // c\n}', "$"),
    ("nan", b'{"session_id": "x", "metadata": {"duration_minutes": NaN}}', "$.metadata.duration_minutes"),
    ("infinity", b'{"a": [1, Infinity]}', "$.a[1]"),
    ("neg-infinity", b'{"a": {"b": -Infinity}}', "$.a.b"),
    ("duplicate-key", b'{"session_id": "a", "session_id": "b"}', "$.session_id"),
    ("nested-duplicate", b'{"metadata": {"x": 1, "x": 2}}', "$.metadata.x"),
    # Numbers Python reads but JSON readers cannot round-trip: 1e400 became a bare Infinity on rewrite.
    ("huge-exponent", b'{"metadata": {"duration_minutes": 1e400}}', "$.metadata.duration_minutes"),
    ("huge-negative", b'{"source_data": {"pnl": [1, -2.5E+999]}}', "$.source_data.pnl[1]"),
    ("huge-mantissa", b'{"a": ' + b"9" * 400 + b'.0}', "$.a"),
    ("integer-5000-digits", b'{"source_data": {"n": ' + b"7" * 5000 + b"}}", "$.source_data.n"),
    ("negative-integer-5000-digits", b'{"b": [-' + b"1" * 5000 + b"]}", "$.b[0]"),
    # Lone surrogates pass json.loads and crash when encoded as UTF-8 (212 fuzz files did).
    ("lone-high-surrogate", b'{"agent_id": "A\\ud800"}', "$.agent_id"),
    ("lone-low-surrogate", b'{"source_data": {"m": ["ok", "x\\udfff"]}}', "$.source_data.m[1]"),
    ("reversed-pair", b'{"s": "\\ude00\\ud83d"}', "$.s"),
    ("surrogate-in-key", b'{"source_data": {"k\\ud800": 1}}', '$.source_data["k\\ud800"]'),
    ("invalid-utf8", b'{"session_id": "\xff\xfe"}', "$"),
    ("latin1", '{"agent_id": "Jos\u00e9"}'.encode("latin-1"), "$"),
    ("utf16", '{"a": 1}'.encode("utf-16"), "$"),
    ("deep", b"[" * 500 + b"]" * 500, "$"),
    ("deep-objects", b'{"a":' * 300 + b"1" + b"}" * 300, "$"),
    ("array-top", [], "$"),
    ("string-top", "just a string", "$"),
    ("number-top", b"42", "$"),
    ("null-top", b"null", "$"),
    ("missing-id", _doc(session_id=_DELETE), "$.session_id"),
    ("missing-type", _doc(session_type=_DELETE), "$.session_type"),
    ("missing-timestamp", _doc(timestamp=_DELETE), "$.timestamp"),
    ("missing-agent", _doc(agent_id=_DELETE), "$.agent_id"),
    ("id-with-slash", _doc(session_id="../../etc/passwd"), "$.session_id"),
    ("id-with-space", _doc(session_id="my session"), "$.session_id"),
    ("id-leading-dot", _doc(session_id=".hidden"), "$.session_id"),
    ("id-too-long", _doc(session_id="a" * 129), "$.session_id"),
    ("id-number", _doc(session_id=12345), "$.session_id"),
    ("id-empty", _doc(session_id=""), "$.session_id"),
    ("agent-empty", _doc(agent_id=""), "$.agent_id"),
    ("agent-blank", _doc(agent_id="   "), "$.agent_id"),
    ("agent-null", _doc(agent_id=None), "$.agent_id"),
    ("type-unknown", _doc(session_type="bild"), "$.session_type"),
    ("type-upper", _doc(session_type="BUILD"), "$.session_type"),
    ("type-number", _doc(session_type=7), "$.session_type"),
    ("timestamp-garbage", _doc(timestamp="yesterday"), "$.timestamp"),
    ("timestamp-month-13", _doc(timestamp="2025-13-02T05:20:00Z"), "$.timestamp"),
    ("timestamp-number", _doc(timestamp=1733116800), "$.timestamp"),
    ("metadata-list", _doc(metadata=[1, 2]), "$.metadata"),
    ("duration-negative", _doc(metadata={"duration_minutes": -5}), "$.metadata.duration_minutes"),
    ("duration-string", _doc(metadata={"duration_minutes": "120"}), "$.metadata.duration_minutes"),
    # Was valid: published as a 300-digit number of hours of work.
    ("duration-absurd", _doc(metadata={"duration_minutes": 1e300}), "$.metadata.duration_minutes"),
    ("timestamp-year-1", _doc(timestamp="0001-01-01T00:00:00Z"), "$.timestamp"),
    ("source-data-string", _doc(source_data="D:/repo"), "$.source_data"),
    ("artifacts-list", _doc(artifacts=[]), "$.artifacts"),
    ("artifact-not-object", _doc(artifacts={"readme": "x.md"}), "$.artifacts.readme"),
    ("artifact-generated-string", _doc(artifacts={"readme": {"generated": "yes"}}), "$.artifacts.readme.generated"),
    ("artifact-status-number", _doc(artifacts={"readme": {"status": 3}}), "$.artifacts.readme.status"),
    ("artifact-path-number", _doc(artifacts={"readme": {"path": 3}}), "$.artifacts.readme.path"),
    ("pipeline-status-list", _doc(pipeline_status={"build_artifact": ["x"]}), "$.pipeline_status.build_artifact"),
]


def _write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / f"{name}.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    return path


def test_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("name,content,json_path", CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_file_exits_2_with_path(tmp_path: Path, empty_host, name, content, json_path) -> None:
    path = _write(tmp_path, name, content)
    result = run_cli(["validate", path], host=empty_host)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if "warning:" not in line]
    assert errors, result.output
    assert errors[0].startswith(f"{path}: {json_path}: "), errors


def test_malformed_corpus_in_real_processes(tmp_path: Path) -> None:
    """The installed command, not just the in-process app: exit 2, one line each, no traceback."""
    paths = [_write(tmp_path, name, content) for name, content, _ in CORPUS]
    proc = subprocess.run([FLYWHEEL, "validate", *paths], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    for path in paths:
        assert f"{path}: $" in proc.stderr, path


def test_run_rejects_the_corpus_too(tmp_path: Path, echo_host) -> None:
    for name, content, json_path in CORPUS:
        path = _write(tmp_path, name, content)
        before = path.read_bytes()
        result = run_cli(["run", path, "--out", tmp_path / "out"], host=echo_host)
        assert result.exit_code == 2, (name, result.output)
        assert "Traceback" not in result.output
        assert path.read_bytes() == before, "a rejected file must not be rewritten"
    assert not (tmp_path / "out").exists()


def test_missing_file_and_directory(tmp_path: Path, empty_host) -> None:
    result = run_cli(["validate", tmp_path / "nope.json", tmp_path], host=empty_host)
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.json'}: $: no such file" in result.stderr
    assert f"{tmp_path}: $: is a directory" in result.stderr


def test_size_limit_is_checked_before_parsing(tmp_path: Path, empty_host) -> None:
    (tmp_path / "flywheel.toml").write_text("max_input_bytes = 100\n")
    path = _write(tmp_path, "big", _doc(overview="x" * 200))
    result = run_cli(["validate", path, "--config", tmp_path / "flywheel.toml"], host=empty_host)
    assert result.exit_code == 2
    assert "the limit is 100" in result.stderr


def test_lenient_where_agents_differ(tmp_path: Path, empty_host) -> None:
    doc = _doc(
        session_id="a5-2025-12-02-guardrail-impl",
        agent_id="claude code (opus)",
        timestamp="2025-12-02T03:00:00.000000",
        deliverables=["x"],
        lessons=[{"title": "t", "description": "d"}],
        artifacts={"readme": {"generated": False, "path": None, "status": "processing"}},
        pipeline_status={"build_artifact": "in_progress"},
    )
    doc["source_data"] = {"repo_path": "D:\\Repo", "files_changed": ["a.py"], "weird": {"nested": [1]}}
    path = _write(tmp_path, "wild", doc)
    result = run_cli(["validate", path], host=empty_host)
    assert result.exit_code == 0, result.output
    assert f"{path}: $.timestamp: warning: timestamp has no time zone; read as UTC" in result.stderr


def test_a_timestamp_in_the_future_is_flagged(tmp_path: Path, empty_host) -> None:
    # An agent whose clock is wrong dates its posts in 2099, first on the website for ever.
    path = _write(tmp_path, "ahead", _doc(timestamp="2099-01-01T00:00:00Z"))
    result = run_cli(["validate", path], host=empty_host)
    assert result.exit_code == 0, result.output
    assert f"{path}: $.timestamp: warning: timestamp 2099-01-01 is in the future (a wrong clock?)" in result.stderr
    assert "in the future" not in run_cli(["validate", _write(tmp_path, "now", _doc())], host=empty_host).stderr


@pytest.mark.parametrize(
    "stamp",
    ["2025-12-02", "2025-12-02T05:20", "2025-12-02 05:20:00", "2025-12-02T05:20:00.123456789Z",
     "2025-12-02T05:20:00+0530", "2025-12-02T05:20:00-08:00", "2025-12-02T05:20:00z"],
)
def test_timestamp_forms_accepted(tmp_path: Path, empty_host, stamp: str) -> None:
    path = _write(tmp_path, "ts", _doc(timestamp=stamp))
    assert run_cli(["validate", path], host=empty_host).exit_code == 0


def test_validate_json_output(tmp_path: Path, empty_host) -> None:
    good, bad = _write(tmp_path, "good", _doc()), _write(tmp_path, "bad", _doc(session_id="a b"))
    result = run_cli(["validate", good, bad, "--json"], host=empty_host)
    assert result.exit_code == 2
    data = result.json()
    assert [r["exit_code"] for r in data] == [0, 2]
    errors = [p for p in data[1]["problems"] if p["severity"] == "error"]
    assert [p["path"] for p in errors] == ["$.session_id"]


def test_messages_stay_on_one_line(tmp_path: Path, empty_host) -> None:
    path = _write(tmp_path, "multi", _doc(session_type="line1\nline2" + "x" * 5000))
    result = run_cli(["validate", path], host=empty_host)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2
    assert all(line.startswith(str(path)) for line in lines)
    assert all(len(line) < 600 for line in lines)


@pytest.mark.parametrize("wrong,right", [("BUILD", "build"), ("life-aria", "life_aria"), ("trades", "trade")])
def test_unknown_session_type_suggests_the_closest(tmp_path: Path, empty_host, wrong: str, right: str) -> None:
    result = run_cli(["validate", _write(tmp_path, "t", _doc(session_type=wrong))], host=empty_host)
    assert result.exit_code == 2
    assert f"did you mean {right!r}?" in result.stderr


def test_a_duration_of_more_than_a_week_is_flagged(tmp_path: Path, empty_host) -> None:
    # 5,400,000 "minutes" (an agent's milliseconds) was published as 90,000 h of work without a word.
    path = _write(tmp_path, "ms", _doc(metadata={"duration_minutes": 5_400_000}))
    result = run_cli(["validate", path], host=empty_host)
    assert result.exit_code == 0, result.output
    assert (f"{path}: $.metadata.duration_minutes: warning: duration_minutes 5,400,000 is 3,750 days: the artifacts "
            "will say 90,000 h of work (seconds or milliseconds written as minutes?)") in result.stderr
    week = _write(tmp_path, "week", _doc(metadata={"duration_minutes": 7 * 24 * 60}))
    assert "duration_minutes" not in run_cli(["validate", week], host=empty_host).stderr


#: Credentials of shapes the stderr redactor did not know (it knows GitHub and GitLab tokens).
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


def test_an_error_line_never_quotes_a_credential(tmp_path: Path, flywheel_host) -> None:
    # An error quotes the value it refuses ("(got ...)"), and error lines are printed, kept in
    # --json output and in a cron job's log: a Slack token pasted as the session type, a JWT as
    # the timestamp were written there whole.
    path = _write(tmp_path, "pasted", _doc(session_type=SLACK, timestamp=JWT, agent_id="password=" + "hunter2hunter2"))
    for args in (["validate", path], ["run", path, "--json"]):
        result = run_cli(args, host=flywheel_host)
        assert result.exit_code == 2, result.output
        for secret in (SLACK, JWT, SLACK[-12:], JWT[-12:]):
            assert secret not in result.output
    result = run_cli(["validate", path], host=flywheel_host)
    assert f"{path}: $.timestamp: must be an ISO 8601 timestamp such as 2025-12-02T05:20:00Z (got \"[redacted:json-web-token]\")" in result.stderr
    assert "unknown session type '[redacted:slack-token]'" in result.stderr


@pytest.mark.parametrize(("content", "said"), [(b"null", "null"), (b"[]", "array"), (b'"text"', "string"), (b"7", "number")])
def test_a_document_that_is_no_object_is_named_as_json_names_it(tmp_path: Path, empty_host, content, said) -> None:
    # Was "expected a JSON object, got NoneType" (or list, str, int): Python's names, not the file's.
    path = _write(tmp_path, "top", content)
    result = run_cli(["validate", path], host=empty_host)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{path}: $: expected a JSON object, got {said}"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_session_file_is_named_as_such(tmp_path: Path, empty_host, encoding) -> None:
    # Windows PowerShell 5 writes UTF-16 (`ConvertTo-Json | Out-File`): flywheel said "invalid
    # UTF-8 at byte 0", or, without a byte-order mark, "invalid JSON ... Expecting value".
    path = _write(tmp_path, "ps", json.dumps(_doc()).encode(encoding))
    result = run_cli(["validate", path], host=empty_host)
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"{path}: $: the file is UTF-16, not UTF-8: save it as UTF-8 "
                                     "(PowerShell: Out-File -Encoding utf8, or Set-Content -Encoding utf8)")


@pytest.mark.parametrize(("text", "where", "closer"), [
    ('{\n  "session_id": "x",\n  "metadata": {"commits": 2,\n  }\n}', "line 3 column 28", "}"),
    ('{"session_id": "x", "tags": ["a", "b",]}', "line 1 column 38", "]"),
])
def test_a_trailing_comma_is_named_where_it_is(tmp_path: Path, empty_host, text, where, closer) -> None:
    # Agents write JSON5-style trailing commas: Python says "Expecting property name enclosed in
    # double quotes" at the brace after it, which sends a reader looking for a quoting mistake.
    path = _write(tmp_path, "comma", text.encode())
    result = run_cli(["validate", path], host=empty_host)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{path}: $: invalid JSON at {where}: a comma before '{closer}' (JSON allows no trailing comma)"


@pytest.mark.parametrize("session_id", ["CON", "nul", "Com1", "lpt9", "aux.2025-12-02", "PRN.json", "session-1."])
def test_a_session_id_windows_cannot_hold_is_refused(tmp_path, session_id) -> None:
    # Regression: "CON", "NUL", "COM1" or an id ending in "." were accepted; the id names the
    # session's folder in the output and in the github target's repository, which then could not
    # be checked out on Windows.
    path = tmp_path / "work_session.json"
    path.write_text(json.dumps(build_session("build", session_id=session_id)), encoding="utf-8")
    result = run_cli(["validate", str(path)])
    assert result.exit_code == 2
    [line] = [line for line in result.stderr.splitlines() if "$.session_id" in line]
    assert line.startswith(f"{path}: $.session_id: must be 1-128 letters") and "a name Windows reserves" in line
    assert line.endswith(f"(got {json.dumps(session_id)})")


@pytest.mark.parametrize("session_id", ["console", "CONFIG", "nul1", "com10", "Com", "my.con", "s-2025.12.02_x-", "x"])
def test_session_ids_near_the_reserved_names_are_accepted(tmp_path, session_id) -> None:
    path = tmp_path / "work_session.json"
    path.write_text(json.dumps(build_session("build", session_id=session_id)), encoding="utf-8")
    assert "$.session_id" not in run_cli(["validate", str(path)]).stderr
