"""The scanner against its corpora: every secret shape found in every container, no look-alike."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable

import pytest

from flywheel_core.render import md_escape, md_inline
from flywheel_core.scanning import Finding, redact_text, scan_session, scan_text
from flywheel_core.testing import build_session
from scan_fakes import expand, load

SECRETS = load("secrets.json")
PERSONAL = load("personal.json")
LOOKALIKES = load("lookalikes.json")

#: How a session value reaches an artifact: as it is, Markdown-escaped (block or inline, as the
#: templates write it), inside a JSON string, HTML-escaped (SVG, site pages).
CONTAINERS: dict[str, tuple[str, Callable[[str], str]]] = {
    "plain": ("notes.txt", lambda s: s),
    "markdown": ("blog_post.md", md_escape),
    "markdown-inline": ("social_post.md", md_inline),
    "json": ("metrics.json", lambda s: json.dumps({"note": s}, ensure_ascii=False)),
    "html": ("chart.svg", lambda s: f"<svg><title>{html.escape(s)}</title></svg>"),
}


def _rules(case: dict) -> set[str]:
    return set(case["rule"]) if isinstance(case["rule"], list) else {case["rule"]}


def _check_found(case: dict, findings: list[Finding], wrapped: str, wrap: Callable[[str], str]) -> None:
    text, secrets = expand(case)
    rules = {f.rule for f in findings}
    assert rules & _rules(case), f"{case['id']}: expected {case['rule']}, found {sorted(rules)}"
    redacted = redact_text(wrapped, findings)
    for secret in secrets:
        # Neither the value nor any 8-character piece of it survives redaction.
        assert wrap(secret) not in redacted, f"{case['id']}: value left in {redacted!r}"
        core = secret.replace("\n", " ")
        for i in range(0, max(1, len(core) - 8), 4):
            piece = core[i:i + 8]
            if piece.isalnum() and len(piece) == 8:
                assert piece not in redacted, f"{case['id']}: {piece!r} left in {redacted!r}"
    for f in findings:
        if f.rule in _rules(case):
            assert all(secret not in f.preview for secret in secrets)
            if case in SECRETS:
                _check_preview(case, f, secrets)


def _check_preview(case: dict, finding: Finding, secrets: list[str]) -> None:
    """A preview shows at most 4 characters of the value (besides a public prefix)."""
    for secret in secrets:
        # A key's armour lines and PuTTY's field names are the format, not the secret.
        secret = re.sub(r"-----[A-Z ]+-----|PuTTY-User-Key-File-2|[A-Z][a-z]+(?:-[A-Z][a-z]+)?: ", " ", secret)
        for prefix in ("ghp_", "gho_", "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-", "xoxb-", "xoxp-",
                       "xapp-", "sk_live_", "rk_live_", "npm_", "pypi-AgEIcHlwaS5vcmc", "AIza", "SG.",
                       "sk-proj-", "sk-ant-api03-", "sk-", "hf_", "sq0csp-", "dop_v1_", "AKIA", "ASIA",
                       "AccountKey=", "https://hooks.slack.com/services/"):
            if secret.startswith(prefix):
                secret = secret[len(prefix):]
                break
        for i in range(len(secret) - 4):
            assert secret[i:i + 5] not in finding.preview, f"{case['id']}: preview {finding.preview!r}"


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("case", SECRETS + PERSONAL, ids=lambda c: c["id"])
def test_every_shape_is_found_and_redacted(case: dict, container: str) -> None:
    name, wrap = CONTAINERS[container]
    text, _ = expand(case)
    wrapped = wrap(text)
    findings = scan_text(wrapped, name=name)
    _check_found(case, findings, wrapped, wrap)
    expected = "secret" if case in SECRETS else {"personal", "private"}
    assert all(f.severity in expected for f in findings if f.rule in _rules(case))


@pytest.mark.parametrize("case", SECRETS + PERSONAL, ids=lambda c: c["id"])
def test_every_shape_is_found_in_a_commit_message(case: dict) -> None:
    text, _ = expand(case)
    doc = build_session("build", source_data={"git_commits": [
        {"hash": "9" * 40, "message": "fix deploy", "author": "Ana", "email": "ana@example.net"},
        {"hash": "8" * 40, "message": "update notes", "body": text, "author": "Ana"},
    ]})
    findings = [f for f in scan_session(doc) if f.file == "$.source_data.git_commits[1].body"]
    _check_found(case, findings, text, lambda s: s)


def test_the_corpora_are_big_enough() -> None:
    assert len(SECRETS) >= 40 and len(LOOKALIKES) >= 40
    assert len({c["id"] for c in SECRETS + PERSONAL + LOOKALIKES}) == len(SECRETS + PERSONAL + LOOKALIKES)


#: Look-alikes allowed to be reported: none. Every look-alike in the corpus is a shape this
#: repository's own history or docs really contain; one that is flagged would hold a normal
#: session, so a regression here must be fixed, not tolerated.
MAX_FALSE_POSITIVES = 0


def test_lookalikes_are_not_findings(capsys: pytest.CaptureFixture[str]) -> None:
    false_positives = []
    for case in LOOKALIKES:
        text, _ = expand(case)
        for container, (name, wrap) in CONTAINERS.items():
            for f in scan_text(wrap(text), name=name):
                false_positives.append(f"{case['id']} ({container}): {f.rule} {f.preview}")
    with capsys.disabled():
        print(f"\nscan look-alikes: {len(false_positives)} false positives in "
              f"{len(LOOKALIKES)} look-alikes x {len(CONTAINERS)} containers")
        for line in false_positives:
            print("  " + line)
    assert len(false_positives) <= MAX_FALSE_POSITIVES, false_positives
