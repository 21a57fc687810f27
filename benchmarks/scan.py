"""The publishing scan on real history: findings, sessions held, and time per MB.

Run: .venv/bin/python benchmarks/scan.py [--repo PATH ...] [--runs N] [--show N] [--quick]

Each repository's whole history is collected with `flywheel collect build` and cut into
sessions of one day of commits each (a day's work, what an agent would publish at once).
Every session is scanned with `scan_session` under the defaults, and held if it has a
finding; the same sessions are scanned with detect-secrets' own default settings (every
plugin, high-entropy strings included, `scan_line` per line) for comparison. Then `flywheel
run` makes the artifacts of the newest 50 commits and `scan_files` scans them; and the whole
history, as one session, goes through `flywheel run` with a github and a web target under the
default policy (scan = "hold"): the entries the queue holds are counted, with and without the
repository's own `.flywheel-allow.json`. Speed: a
1 MB Markdown artifact made of the commit messages (escaped as the templates escape them),
best of --runs, against detect-secrets' `scan_line` on the same lines, measured in the same run.
Memory: what `scan_text` allocates (tracemalloc) on 1,000 and 10,000 lines of such messages.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from _bench import FLYWHEEL, ROOT, Report, in_child, quick_flag


def collect(repo: Path, folder: Path, rev_range: str | None = None) -> dict[str, Any]:
    out = folder / "session.json"
    args = [str(FLYWHEEL), "collect", "build", "--repo", str(repo), "-o", str(out)]
    if rev_range:
        args += ["--rev-range", rev_range]
    subprocess.run(args, check=True, capture_output=True)
    return json.loads(out.read_text(encoding="utf-8"))


def by_day(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One session per day of commits, each with the collected envelope."""
    days: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for commit in doc["source_data"]["git_commits"]:
        days[(commit.get("timestamp") or "")[:10]].append(commit)
    sessions = []
    for day, commits in sorted(days.items()):
        session = json.loads(json.dumps(doc))
        session["session_id"] = f"{doc['session_id']}-{day}"
        session["source_data"]["git_commits"] = commits
        sessions.append(session)
    return sessions


def session_lines(session: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for commit in session["source_data"]["git_commits"]:
        for field in ("message", "body"):
            lines.extend((commit.get(field) or "").splitlines())
    return lines


def detect_secrets_defaults(lines: list[str]) -> collections.Counter[str]:
    """Findings of detect-secrets' default settings (every plugin) in ``lines``, by type."""
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings

    types: collections.Counter[str] = collections.Counter()
    with default_settings():
        for line in lines:
            types.update(secret.type for secret in scan_line(line))
    return types


def artifacts_findings(session_doc: dict[str, Any], folder: Path) -> tuple[int, int, list[str]]:
    """(files, findings, descriptions) for the artifacts `flywheel run` makes of a session."""
    from flywheel_core.scanning import scan_files

    path = folder / "run" / "work_session.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(session_doc), encoding="utf-8")
    env = {**os.environ, "FLYWHEEL_LOAD_PLUGINS": "build"}
    subprocess.run([str(FLYWHEEL), "run", str(path)], cwd=path.parent, env=env, capture_output=True)
    files = {str(p.relative_to(path.parent)): p.read_bytes()
             for p in (path.parent / "flywheel-out").rglob("*") if p.is_file()}
    findings = scan_files(files)
    return len(files), len(findings), [f.describe() for f in findings]


def held_at_enqueue(doc: dict[str, Any], folder: Path, allowlist: Path | None = None) -> dict[str, Any]:
    """What the publication queue holds when `flywheel run` enqueues the artifacts of ``doc``
    (one session) for a github and a web target under the default policy (scan = "hold")."""
    project = folder / ("enqueue-allowed" if allowlist else "enqueue")
    project.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", str(project / "remote.git")], check=True)
    (project / "flywheel.toml").write_text(
        'out_dir = "out"\nstate_dir = "state"\n[targets.github]\nremote = "remote.git"\n'
        '[targets.web]\nsite_dir = "site"\nbase_url = "https://example.org/"\n'
        + (f'[scan]\nallowlist = "{allowlist}"\n' if allowlist else ""), encoding="utf-8")
    (project / "session.json").write_text(json.dumps(doc), encoding="utf-8")
    env = {**os.environ, "FLYWHEEL_LOAD_PLUGINS": "build,github,web"}
    subprocess.run([str(FLYWHEEL), "run", "session.json"], cwd=project, env=env, capture_output=True)
    listed = subprocess.run([str(FLYWHEEL), "queue", "list", "--json"], cwd=project, env=env, capture_output=True,
                            text=True).stdout
    entries = json.loads(listed or "[]")
    findings = {(f["rule"], f["preview"]) for e in entries for f in (e.get("scan") or {}).get("findings") or []}
    return {"entries": len(entries), "held": sum(e["status"] == "held" for e in entries),
            "findings": sorted(f"{rule} {preview}" for rule, preview in findings)}


MEMORY = r"""
import json, sys, tracemalloc
from flywheel_core.render import md_escape
from flywheel_core.scanning import scan_text
messages = json.loads(open(sys.argv[2], encoding="utf-8").read()) or ["fix: a commit message"]
text = "".join(f"- {md_escape(messages[i % len(messages)])}\\n" for i in range(int(sys.argv[1])))
scan_text("warm up", name="a.md")
tracemalloc.start()
scan_text(text, name="build_log.md")
print(json.dumps(tracemalloc.get_traced_memory()[1] / 2**20))
"""


def speed(messages: list[str], runs: int) -> dict[str, float]:
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings

    from flywheel_core.render import md_escape
    from flywheel_core.scanning import scan_text

    parts: list[str] = []
    size = 0
    i = 0
    while size < 1_000_000 and messages:
        line = f"- {md_escape(messages[i % len(messages)])}\n"
        parts.append(line)
        size += len(line.encode())
        i += 1
    text = "".join(parts)
    mb = len(text.encode()) / 1e6
    scan_text("warm up", name="a.md")
    best = min(_timed(lambda: scan_text(text, name="build_log.md")) for _ in range(runs))
    sample = text.splitlines()[:3000]
    sample_mb = sum(len(s.encode()) + 1 for s in sample) / 1e6
    with default_settings():
        ds = _timed(lambda: [list(scan_line(line)) for line in sample])
    return {"mb": mb, "ours_s_per_mb": best / mb, "ds_s_per_mb": ds / sample_mb}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", action="append", type=Path, help="a git repository (default: this one)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--show", type=int, default=10, help="findings to list per repository")
    parser.add_argument("--ds-sessions", type=int, default=200,
                        help="sessions per repository also scanned with detect-secrets' defaults (slow)")
    quick_flag(parser)
    args = parser.parse_args()
    if args.quick:
        args.runs, args.ds_sessions = 1, 20
    from flywheel_core.scanning import scan_session

    repos = args.repo or [ROOT]
    all_messages: list[str] = []
    print("| repository | commits | sessions (days) | findings | held (any finding) | held (secrets) "
          "| detect-secrets defaults: held | artifacts: files, findings |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    notes: list[str] = []
    for repo in repos:
        with tempfile.TemporaryDirectory(prefix="flywheel-scan-bench-") as tmp:
            doc = collect(repo, Path(tmp))
            commits = doc["source_data"]["git_commits"]
            sessions = by_day(doc)
            rules: collections.Counter[str] = collections.Counter()
            held = held_secret = ds_held = ds_scanned = 0
            ds_types: collections.Counter[str] = collections.Counter()
            shown: list[str] = []
            for session in sessions:
                findings = scan_session(session)
                rules.update(f.rule for f in findings)
                held += bool(findings)
                held_secret += any(f.severity == "secret" for f in findings)
                if ds_scanned < args.ds_sessions:
                    ds_scanned += 1
                    types = detect_secrets_defaults(session_lines(session))
                    ds_types.update(types)
                    ds_held += bool(types)
                shown += [f"{session['session_id'][-10:]} {f.describe()}" for f in findings]
            newest = dict(doc, source_data=dict(doc["source_data"], git_commits=commits[:50]))
            n_files, n_art, art_lines = artifacts_findings(newest, Path(tmp))
            # The whole history as one session, through the enqueue-time scan and its policy.
            whole = held_at_enqueue(doc, Path(tmp))
            allow = repo.resolve() / ".flywheel-allow.json"
            allowed = held_at_enqueue(doc, Path(tmp), allow) if allow.is_file() else None
            for c in commits:
                all_messages.extend(x for x in ((c.get("message") or ""), (c.get("body") or "")) if x)
        repo = repo.resolve()
        name = repo.name if repo.name != "repo" else repo.parent.name.replace("+", "/")
        print(f"| {name} | {len(commits):,} | {len(sessions):,} | {sum(rules.values())} | {held} | {held_secret} "
              f"| {ds_held} of {ds_scanned} | {n_files}, {n_art} |")
        notes.append(f"{name}: " + (", ".join(f"{r} {n}" for r, n in rules.most_common()) or "no findings"))
        notes += [f"  {line}" for line in (shown + art_lines)[:args.show]]
        notes.append("  detect-secrets defaults found: "
                     + ", ".join(f"{t} {n}" for t, n in ds_types.most_common()))
        notes.append(f"  enqueue-time scan of the whole history as one session (`flywheel run`, targets github and "
                     f"web, scan = \"hold\"): {whole['held']} of {whole['entries']} entries held"
                     + (f" ({'; '.join(whole['findings'])})" if whole["findings"] else "")
                     + (f"; with its {allow.name}: {allowed['held']} held" if allowed is not None else ""))
    print()
    print("\n".join(notes))
    figures = speed(all_messages, args.runs)
    # The messages go in a file: as one argument they can pass the kernel's 128 KiB limit for one.
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as fh:
        json.dump(all_messages[:2000], fh)
        fh.flush()
        peaks = {n: in_child(MEMORY, n, fh.name)[0] for n in (1_000, 10_000)}
    report = Report("scan", "Publishing scan: time per MB, and findings on real history",
                    f"`.venv/bin/python benchmarks/scan.py --runs {args.runs}`: a {figures['mb']:.2f} MB Markdown artifact "
                    f"made of the commit messages of {', '.join(r.resolve().name for r in repos)}, best of {args.runs}")
    report.add("flywheel `scan_text` (whole text, every rule)", f"{figures['ours_s_per_mb']:.3f} s per MB",
               reference="(reference)", ratio="1.00×")
    report.add("detect-secrets `scan_line` per line, default settings", f"{figures['ds_s_per_mb']:.3f} s per MB",
               reference="scan_text", ratio=f"{figures['ds_s_per_mb'] / figures['ours_s_per_mb']:.1f}×")
    report.memory("lines (`scan_text`, traced)", (1_000, peaks[1_000]), (10_000, peaks[10_000]), how="traced")
    for line in notes:
        report.note(line.strip())
    report.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
