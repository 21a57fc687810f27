"""Trade journal for 10,000 trades: the whole `flywheel run` process vs references measured in the same run.

Run: .venv/bin/python benchmarks/trade_journal.py [--trades N] [--runs R] [--quick]

Figures (median of R runs, wall time):
* `flywheel run` on a session of N closed trades (journal, metrics JSON, SVG and PNG equity chart,
  social post), the whole process, only the trade plugin loaded;
* reference 1: `python -c pass` (interpreter start-up);
* reference 2: a plain Python process that loads the same session, sums the P&L with a loop and
  writes `json.dumps` of the trades: the least any tool must do with these trades;
* `flywheel validate` on the same file: core's loading and schema check plus the plugin's checks;
* in process: `build_artifacts` alone (metrics + templates + chart), no start-up.
Target (issue 6): a journal for 10,000 trades in under a few seconds.
Peak memory of `flywheel run` at 1, 1,000 and 10,000 trades.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from _bench import FLYWHEEL, PY, Report, child_env, compare, in_child, quick_flag, run, seconds

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
    begin = time.process_time()  # CPU: the plugin's own work, whatever else the machine does
    artifacts = build_artifacts(session, ctx)
    times.append(time.process_time() - begin)
print(json.dumps([statistics.median(times), len(artifacts)]))
"""


TRACED = r"""
import json, sys, tracemalloc
from flywheel_core import RunContext, load_config
from flywheel_core.models import Session, converter
from flywheel_core.plugins import get_host
from flywheel_trade.journal import build_artifacts
ctx = RunContext(config=load_config(None), host=get_host(), session_path=None)
build_artifacts(converter.structure(json.load(open(sys.argv[2])), Session), ctx)  # imports, templates
session = converter.structure(json.load(open(sys.argv[1])), Session)
tracemalloc.start()
build_artifacts(session, ctx)
print(json.dumps(tracemalloc.get_traced_memory()[1] / 2**20))
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    quick_flag(parser)
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    env = child_env(FLYWHEEL_LOAD_PLUGINS="trade")
    work = Path(tempfile.mkdtemp(prefix="flywheel-bench-trade-"))
    try:
        docs = {}
        for n in sorted({1, 1_000, args.trades, 10_000}):
            docs[n] = work / f"pristine-{n}.json"
            docs[n].write_text(json.dumps(session(n)), encoding="utf-8")
        pristine = docs[args.trades]
        target = work / "work_session.json"

        def fresh(name: str, source: Path = pristine) -> None:  # `flywheel run` records its artifacts in the file
            if name == "run":
                shutil.copyfile(source, target)
                shutil.rmtree(work / "out", ignore_errors=True)

        stats = compare({
            "start-up": [PY, "-c", "pass"],
            "plain": [PY, "-c", PLAIN, pristine, work / "plain.out"],
            "run": [FLYWHEEL, "run", target, "--out", work / "out"],
            "validate": [FLYWHEEL, "validate", pristine],
        }, runs, prepare=fresh, env=env)
        folder = work / "out" / "trade" / f"bench-{args.trades}"
        sizes = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
        (in_process, kinds), proc = in_child(IN_PROCESS, pristine, runs, env=env)
        assert kinds == 3 and len(sizes) == 6, "the benchmark produced nothing"
        memory, traced = {}, {}
        for n in (1, 1_000, 10_000):
            fresh("run", docs[n])
            memory[n] = run([FLYWHEEL, "run", target, "--out", work / "out"], env=env).peak_mib
        for n in (1_000, 10_000):
            traced[n] = in_child(TRACED, docs[n], docs[1], env=env)[0]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    start, plain, whole, check = (stats[k] for k in ("start-up", "plain", "run", "validate"))
    report = Report("trade_journal", f"Trade journal: {args.trades:,} trades",
                    f"`.venv/bin/python benchmarks/trade_journal.py --runs {runs}`: only the trade plugin loaded, "
                    "median of the runs, whole processes taking turns")
    report.add("`python -c pass`", seconds(start.wall, start.cpu), reference="(reference)", ratio="1.00×")
    report.add("plain Python: load, P&L loop, `json.dumps`", seconds(plain.wall, plain.cpu),
               reference="python -c pass", ratio=f"{plain.wall / start.wall:.1f}×", peak_mib=plain.peak_mib)
    report.add("`flywheel run` (journal, metrics, SVG and PNG chart, social post)", seconds(whole.wall, whole.cpu),
               reference="plain Python", ratio=f"{whole.wall / plain.wall:.1f}× ({whole.cpu / plain.cpu:.1f}× CPU)",
               peak_mib=whole.peak_mib)
    report.add("`flywheel validate` on the same file", seconds(check.wall, check.cpu), reference="plain Python",
               ratio=f"{check.wall / plain.wall:.1f}× ({check.cpu / plain.cpu:.1f}× CPU)", peak_mib=check.peak_mib)
    report.add("the plugin's `build_artifacts` in process (no start-up), CPU time", seconds(in_process),
               target="< 3 s (issue 6)", met=in_process < 3.0, peak_mib=proc.peak_mib)
    report.note("files: " + ", ".join(f"{name} {size // 1024} KiB" for name, size in sorted(sizes.items())))
    report.memory("trades (`flywheel run`)", (1_000, memory[1_000]), (10_000, memory[10_000]), base=memory[1])
    report.memory("trades (`build_artifacts`, traced)", (1_000, traced[1_000]), (10_000, traced[10_000]), how="traced")
    report.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
