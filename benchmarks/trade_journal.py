"""Trade journal for 10,000 trades: the whole `flywheel run` process vs references measured in the same run.

Run: .venv/bin/python benchmarks/trade_journal.py [--trades N] [--runs R]

Figures (median of R runs, wall time):
* `flywheel run` on a session of N closed trades (journal, metrics JSON, SVG and PNG equity chart,
  social post), the whole process, only the trade plugin loaded;
* reference 1: `python -c pass` (interpreter start-up);
* reference 2: a plain Python process that loads the same session, sums the P&L with a loop and
  writes `json.dumps` of the trades: the least any tool must do with these trades;
* `flywheel validate` on the same file: core's loading and schema check plus the plugin's checks;
* in process: `build_artifacts` alone (metrics + templates + chart), no start-up.
Target (issue 6): a journal for 10,000 trades in under a few seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

BIN = Path(sys.executable).parent
SYMBOLS = ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "GOOG", "ES", "NQ", "CL"]

PLAIN = """
import json, sys
doc = json.load(open(sys.argv[1]))
total = 0.0
for t in doc["source_data"]["trades"]:
    d = 1 if t["action"] == "buy" else -1
    total += (t["exit_price"] - t["price"]) * t["quantity"] * d - t.get("fees", 0)
open(sys.argv[2], "w").write(json.dumps(doc["source_data"]["trades"]) + str(total))
"""

IN_PROCESS = """
import json, statistics, sys, time
from flywheel_core import RunContext, load_config
from flywheel_core.models import Session, converter
from flywheel_core.plugins import PluginHost
from flywheel_trade.journal import build_artifacts

host = PluginHost()
host.load_entry_points()
ctx = RunContext(config=load_config(None), host=host, session_path=None)
session = converter.structure(json.load(open(sys.argv[1])), Session)
artifacts = build_artifacts(session, ctx)  # warm templates and imports
times = []
for _ in range(int(sys.argv[2])):
    begin = time.perf_counter()
    artifacts = build_artifacts(session, ctx)
    times.append(time.perf_counter() - begin)
print(statistics.median(times), len(artifacts))
"""


def session(n: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    start = datetime(2025, 12, 2, 13, 30, tzinfo=timezone.utc)
    trades = []
    for i in range(n):
        entry = start + timedelta(seconds=i * 30)
        price = round(rng.uniform(20, 500), 2)
        side = rng.choice(["buy", "sell"])
        trade = {
            "symbol": rng.choice(SYMBOLS), "action": side, "quantity": rng.randint(1, 200), "price": price,
            "timestamp": entry.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "exit_price": round(price * (1 + rng.gauss(0.0003, 0.01)), 2),
            "exit_timestamp": (entry + timedelta(seconds=rng.randint(5, 25))).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "fees": round(rng.uniform(0, 2), 2), "notes": f"setup {i % 7} | <b>tag</b>",
        }
        if i % 3 == 0:
            trade["stop_loss"] = round(price * (0.99 if side == "buy" else 1.01), 2)
        trades.append(trade)
    return {
        "session_id": f"bench-{n}", "session_type": "trade", "timestamp": trades[-1]["exit_timestamp"],
        "agent_id": "Agent-Bench", "metadata": {"trades_executed": n}, "source_data": {"trades": trades},
    }


def median(cmd: list[str], runs: int, env: dict[str, str], prepare=None) -> float:
    times = []
    for i in range(runs + 1):  # the first run warms the OS cache and is not counted
        if prepare:
            prepare()
        begin = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env)
        elapsed = time.perf_counter() - begin
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.decode()[-2000:]}")
        if i:
            times.append(elapsed)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "FLYWHEEL_LOAD_PLUGINS": "trade"}
    work = Path(tempfile.mkdtemp(prefix="flywheel-bench-trade-"))
    try:
        doc = session(args.trades)
        pristine = work / "pristine.json"
        pristine.write_text(json.dumps(doc), encoding="utf-8")
        target = work / "work_session.json"

        def fresh() -> None:  # `flywheel run` records its artifacts in the session file: start clean
            shutil.copyfile(pristine, target)
            shutil.rmtree(work / "out", ignore_errors=True)

        start_up = median([sys.executable, "-c", "pass"], args.runs, env)
        plain = median([sys.executable, "-c", PLAIN, str(pristine), str(work / "plain.out")], args.runs, env)
        run = median([str(BIN / "flywheel"), "run", str(target), "--out", str(work / "out")], args.runs, env, fresh)
        check = median([str(BIN / "flywheel"), "validate", str(pristine)], args.runs, env)

        # In a child process run from the temp folder: a module in benchmarks/ must not shadow
        # the standard library for the code being measured.
        probe = subprocess.run(
            [sys.executable, "-c", IN_PROCESS, str(pristine), str(args.runs)],
            capture_output=True, text=True, env=env, cwd=work,
        )
        if probe.returncode != 0:
            raise SystemExit(f"in-process measurement failed:\n{probe.stderr[-2000:]}")
        in_process, kinds = probe.stdout.split()
        folder = work / "out" / "trade" / f"bench-{args.trades}"
        sizes = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
        assert kinds == "3" and len(sizes) == 6, "the benchmark produced nothing"

        print(f"trades: {args.trades}, runs: {args.runs} (median wall time)")
        print(f"{'python -c pass':<44} {start_up:7.3f} s  {1:6.2f}x")
        print(f"{'plain: load, sum P&L loop, json.dumps':<44} {plain:7.3f} s  {plain / start_up:6.2f}x")
        print(f"{'flywheel run (whole process)':<44} {run:7.3f} s  {run / start_up:6.2f}x   {run / plain:5.2f}x plain")
        print(f"{'flywheel validate (load, schema, checks)':<44} {check:7.3f} s  {check / start_up:6.2f}x")
        print(f"{'build_artifacts in process (no start-up)':<44} {float(in_process):7.3f} s")
        print("files: " + ", ".join(f"{name} {size // 1024} KiB" for name, size in sorted(sizes.items())))
        plugin = float(in_process)
        print(f"target: journal, metrics and chart for {args.trades} trades in under 3 s of plugin work: "
              f"{'met' if plugin < 3.0 else 'NOT met'} ({plugin:.2f} s); whole process {run:.2f} s, "
              f"of which {check:.2f} s is what `flywheel validate` does (start-up, strict JSON load, schema, checks)")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
