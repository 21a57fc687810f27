"""Fixtures for the trade plugin's tests: a host with only this plugin, session builders, runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from flywheel_core.testing import build_session

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
DATA = Path(__file__).resolve().parent / "data"
GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(autouse=True)
def _only_trade_plugin(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    # What the journal contains must not depend on which other plugins are installed, nor on
    # a flywheel.toml that happens to be in the current folder.
    monkeypatch.setenv("FLYWHEEL_LOAD_PLUGINS", "trade")
    monkeypatch.delenv("FLYWHEEL_STRICT_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def trade(symbol: str = "AAPL", action: str = "buy", quantity: float = 10, price: float = 100.0,
          timestamp: str = "2025-12-02T03:00:00Z", **fields: Any) -> dict[str, Any]:
    """One ``source_data.trades`` item."""
    return {"symbol": symbol, "action": action, "quantity": quantity, "price": price, "timestamp": timestamp, **fields}


@pytest.fixture
def make_trade() -> Callable[..., dict[str, Any]]:
    """``make_trade(symbol, action, quantity, price, timestamp, **fields)``: one trades item."""
    return trade


@pytest.fixture
def trade_doc() -> Callable[..., dict[str, Any]]:
    """``trade_doc([trade(...), ...], metadata={...}, **top_level)``: a trade session document."""

    def make(trades: list[dict[str, Any]], *, metadata: dict[str, Any] | None = None,
             source: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        return build_session("trade", metadata=metadata or {}, source_data={"trades": trades, **(source or {})}, **fields)

    return make


@pytest.fixture
def run_trade(tmp_path: Path, flywheel_cli) -> Callable[..., tuple[Any, Path]]:
    """Write a session to tmp, ``flywheel run`` it, return (CliResult, artifact folder)."""

    def run(doc: dict[str, Any] | Path, *extra: str) -> tuple[Any, Path]:
        if isinstance(doc, Path):
            path = tmp_path / doc.name
            path.write_bytes(doc.read_bytes())
            session_id = json.loads(path.read_text())["session_id"]
        else:
            path = tmp_path / "work_session.json"
            path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
            session_id = doc["session_id"]
        out = tmp_path / "out"
        result = flywheel_cli("run", path, "--out", out, *extra)
        return result, out / "trade" / session_id

    return run
