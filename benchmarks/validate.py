"""Validation: a 10,000-trade session and 1,000 small sessions, in one process and as `flywheel validate`.

Run: .venv/bin/python benchmarks/validate.py [--trades N] [--runs R] [--quick]

In a fresh process with the plugins loaded (flywheel's own work, CPU time, no start-up):
* `validate_file` on a session of N trades (strict JSON load, schema, the trade plugin's checks),
  the first call (the schema compiled then) and the median of R more; split into load, schema
  and plugin checks; against jsonschema's check of the same document (the previous schema check,
  still the one that explains a failing file) and `json.loads` of the same bytes (the floor);
* `validate_file` on 1,000 small session files (bundled examples under new ids): sessions/s.
As whole processes: `flywheel validate` on the N-trade file against `python -c "json.load(...)"`.
Peak memory: of the in-process run, and traced (tracemalloc) in `validate_file` at 1,000 and 10,000 trades.
Targets (issue 18): N = 10,000 validates in < 0.3 s of flywheel's own work; >= 1,000 small sessions/s.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
from pathlib import Path

from _bench import FLYWHEEL, PY, ROOT, Report, compare, in_child, quick_flag, seconds
from trade_journal import session as trade_session

IN_PROCESS = r"""
import json, statistics, sys, time
from pathlib import Path
from flywheel_core.config import load_config
from flywheel_core.pipeline import validate_file
from flywheel_core.plugins import get_host
from flywheel_core.store import SessionStore
from flywheel_core.validation import check_schema, plugin_problems, schema_for
from flywheel_core.context import RunContext

path, runs, small = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
config, host = load_config(None), get_host()
host.session_types  # registration, as `flywheel validate` does before reading a file

def clock(fn):  # CPU seconds: flywheel's own work, whatever else the machine is doing
    start = time.process_time(); value = fn(); return time.process_time() - start, value

first, (_, result) = clock(lambda: validate_file(path, config, host))
assert result.exit_code == 0, [p.format(str(path)) for p in result.problems[:3]]
warm = statistics.median(clock(lambda: validate_file(path, config, host))[0] for _ in range(max(runs, 1)))
store = SessionStore(config.max_input_bytes)
load, raw = clock(lambda: store.read_raw(path))
schema_s, (session, _) = clock(lambda: check_schema(raw, host))
plugins_s, _ = clock(lambda: plugin_problems(session, RunContext(config=config, host=host, session_path=path)))
floor = statistics.median(clock(lambda: json.loads(path.read_bytes()))[0] for _ in range(max(runs, 1)))
out = {"first": first, "warm": warm, "load": load, "schema": schema_s, "plugins": plugins_s, "floor": floor}
if runs:
    from flywheel_core.schema import _validator
    schema = schema_for("trade", host)
    check = _validator(json.dumps(schema, sort_keys=True))
    out["jsonschema"], errors = clock(lambda: list(check.iter_errors(raw)))
    assert not errors
if small != "-":
    files = sorted(Path(small).glob("*.json"))
    total, results = clock(lambda: [validate_file(f, config, host)[1].exit_code for f in files])
    assert set(results) == {0}, results
    out["small"] = len(files) / total
print(json.dumps(out))
"""


MEMORY = r"""
import json, sys, tracemalloc
from pathlib import Path
from flywheel_core.config import load_config
from flywheel_core.pipeline import validate_file
from flywheel_core.plugins import get_host
config, host = load_config(None), get_host()
validate_file(Path(sys.argv[2]), config, host)  # imports, registrations and the compiled schema first
tracemalloc.start()
_, result = validate_file(Path(sys.argv[1]), config, host)
assert result.exit_code == 0
print(json.dumps(tracemalloc.get_traced_memory()[1] / 2**20))
"""


def small_sessions(folder: Path, count: int) -> None:
    """``count`` small session files: the bundled examples, each under a new id."""
    examples = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "examples").glob("*.json"))]
    for i in range(count):
        doc = copy.deepcopy(examples[i % len(examples)])
        doc["session_id"] = f"small-{i:05d}"
        (folder / f"s{i:05d}.json").write_text(json.dumps(doc), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    quick_flag(parser)
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    with tempfile.TemporaryDirectory(prefix="flywheel-bench-validate-") as tmp:
        work = Path(tmp)
        files = {}
        for n in sorted({1, 1_000, args.trades, 10_000}):
            files[n] = work / f"trades-{n}.json"
            files[n].write_text(json.dumps(trade_session(n)), encoding="utf-8")
        (work / "small").mkdir()
        small_sessions(work / "small", 1_000)
        big = files[args.trades]
        figures, proc = in_child(IN_PROCESS, big, runs, work / "small")
        memory = {n: in_child(MEMORY, files[n], files[1])[0] for n in (1_000, 10_000)}
        whole = compare({"floor": [PY, "-c", "import json, sys; json.load(open(sys.argv[1]))", big],
                         "validate": [FLYWHEEL, "validate", big]}, runs)
    f = figures
    report = Report("validate", f"Validation: a {args.trades:,}-trade session, and 1,000 small sessions",
                    f"`.venv/bin/python benchmarks/validate.py --runs {runs}`: in one process with the plugins "
                    "loaded (no start-up), CPU time, median of the runs; whole processes taking turns")
    report.add(f"`validate_file`, {args.trades:,} trades, first call (imports the plugin's checks, compiles the schema)",
               seconds(f["first"]), reference=f"`json.loads` of the file: {seconds(f['floor'])}",
               ratio=f"{f['first'] / f['floor']:.1f}×", peak_mib=proc.peak_mib)
    report.add(f"`validate_file`, {args.trades:,} trades, warm", seconds(f["warm"]),
               reference=f"`json.loads`: {seconds(f['floor'])}", ratio=f"{f['warm'] / f['floor']:.1f}×",
               target="< 0.3 s", met=f["warm"] < 0.3)
    report.add("  of which: strict JSON load", seconds(f["load"]))
    report.add("  of which: schema check (compiled)", seconds(f["schema"]),
               reference=f"jsonschema on the same document: {seconds(f['jsonschema'])}",
               ratio=f"{f['schema'] / f['jsonschema']:.2f}× ({f['jsonschema'] / f['schema']:.0f}× faster)")
    report.add("  of which: the trade plugin's checks", seconds(f["plugins"]))
    report.add("`validate_file`, 1,000 small sessions (bundled examples)", f"{f['small']:,.0f} sessions/s",
               target="≥ 1,000/s", met=f["small"] >= 1000)
    ratio = whole["validate"].wall / whole["floor"].wall
    report.add(f"`flywheel validate`, {args.trades:,} trades (whole process)",
               seconds(whole["validate"].wall, whole["validate"].cpu),
               reference=f'`python -c "json.load(...)"`: {seconds(whole["floor"].wall, whole["floor"].cpu)}',
               ratio=f"{ratio:.1f}× ({whole['validate'].cpu / whole['floor'].cpu:.1f}× CPU)",
               peak_mib=whole["validate"].peak_mib)
    report.memory("trades", (1_000, memory[1_000]), (10_000, memory[10_000]), how="traced, `validate_file` alone")
    report.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
