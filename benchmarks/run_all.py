"""Run every benchmark in this folder and write benchmarks/RESULTS.md: `make bench` (`make bench QUICK=1`).

Each benchmark measures its figures as ratios to a reference measured in the same run and
writes them as a table; this collects the tables, with the machine and the time it took.
Run: .venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import RESULTS_ENV, ROOT, Row, child_env, markdown_table

HERE = Path(__file__).resolve().parent
# In the order RESULTS.md shows them: the targets first.
ORDER = ["startup", "validate", "run_many", "site_build", "collect_build", "trade_journal", "publish_queue", "scan"]
QUICK_ARGS = {"site_build": ["--no-pelican"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller sizes (a few minutes)")
    parser.add_argument("--only", action="append", help="run only this benchmark (repeatable)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    scripts = {p.stem: p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_")}
    names = [n for n in ORDER if n in scripts] + sorted(set(scripts) - set(ORDER))
    if args.only:
        names = [n for n in names if n in args.only]
    started, load_before = time.perf_counter(), os.getloadavg()
    reports, failed, took = [], [], {}
    with tempfile.TemporaryDirectory(prefix="flywheel-bench-all-") as tmp:
        for name in names:
            out = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, str(scripts[name]), *(["--quick", *QUICK_ARGS.get(name, [])] if args.quick else [])]
            print(f"\n== {name}: {' '.join(cmd[1:])}", flush=True)
            begin = time.perf_counter()
            code = subprocess.run(cmd, env=child_env(**{RESULTS_ENV: str(out)}), cwd=ROOT).returncode
            took[name] = time.perf_counter() - begin
            if code != 0 or not out.exists():
                failed.append(name)
                continue
            reports.append(json.loads(out.read_text(encoding="utf-8")))
    total = time.perf_counter() - started
    args.out.write_text(results_md(reports, failed, took, total, load_before, args.quick), encoding="utf-8")
    print(f"\nwrote {args.out.relative_to(ROOT)} in {total / 60:.1f} min" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def results_md(reports: list[dict], failed: list[str], took: dict[str, float], total: float,
               load_before: tuple[float, float, float], quick: bool) -> str:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    met = [(r["title"], row) for r in reports for row in r["rows"] if row["met"] is not None]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench{' QUICK=1' if quick else ''}` (`benchmarks/run_all.py"
        f"{' --quick' if quick else ''}`) on {datetime.date.today().isoformat()}, commit {commit}"
        f"{' with local changes' if dirty else ''}, in {total / 60:.1f} minutes.",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()};"
        f" load average {load_before[0]:.1f} when it started, {os.getloadavg()[0]:.1f} when it ended"
        " (other work shares this machine: seconds vary from run to run, ratios to a reference measured"
        " in the same run much less).",
        "",
        "Each figure is the median of the runs its benchmark names (CPU time is the process's own, user + system;"
        " wall time adds the waits for the disk and for a core). Peak memory is the process's maximum resident"
        " set (`getrusage`), or what `tracemalloc` traced where a row says so.",
        "",
        f"Targets: {sum(1 for _, r in met if r['met'])} of {len(met)} met.",
        "",
    ]
    for title, row in met:
        lines.append(f"- {'met' if row['met'] else '**not met**'}: {title}: {row['figure']}: {row['value']}"
                     f"{' (' + row['ratio'] + ')' if row['ratio'] else ''}, target {row['target']}")
    for report in reports:
        lines += ["", f"## {report['title']}", "", f"{report['command']} ({took.get(report['name'], 0):.0f} s)", "",
                  markdown_table([Row(**row) for row in report["rows"]])]
        lines += [""] + [f"- {note}" for note in report["notes"]] if report["notes"] else []
    if failed:
        lines += ["", "## Failed", "", *[f"- `{name}` did not finish (see its output)" for name in failed]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
