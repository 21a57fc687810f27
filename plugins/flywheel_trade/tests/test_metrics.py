"""Every metric pinned on hand-computed trade lists, and cross-checked against empyrical-reloaded."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flywheel_trade.metrics import Trade, compute_metrics, price_pnl, trade_from_dict, trades_from_source

T0 = datetime(2025, 12, 2, 9, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iso(minutes: float) -> str:
    return at(minutes).strftime("%Y-%m-%dT%H:%M:%SZ")


def closed(pnl: float, index: int, *, side: str = "long", symbol: str = "X", minutes: float | None = None) -> Trade:
    when = at(minutes if minutes is not None else index)
    return Trade(symbol=symbol, side=side, quantity=1, entry_price=10, entry_time=when, exit_time=when, pnl=pnl, index=index)


# The hand-computed session. Exit order is T0, T2, T3, T1, T4 (T5 is open):
#   T0 AAPL long  10 @100 -> 110, fees 2           = +98   (stop 95: risk 50, R +1.96)
#   T2 AAPL long   1 @50, profit_loss 0.0          =   0   (break-even)
#   T3 TSLA short  2 @300 -> 290, fees 1           = +19
#   T1 MSFT short  5 @200 -> 210                   = -50   (stop 220: risk 100, R -0.5)
#   T4 MSFT long   3 @100 -> 90                    = -30
# cumulative 98, 98, 117, 67, 37 -> peak 117, max drawdown 117 - 37 = 80.
HAND = [
    {"symbol": "AAPL", "action": "buy", "quantity": 10, "price": 100, "timestamp": iso(0),
     "exit_price": 110, "exit_timestamp": iso(30), "fees": 2, "stop_loss": 95},
    {"symbol": "MSFT", "action": "SELL", "quantity": 5, "price": 200, "timestamp": iso(10),
     "exit_price": 210, "exit_timestamp": iso(70), "stop_loss": 220},
    {"symbol": "AAPL", "action": "buy", "quantity": 1, "price": 50, "timestamp": iso(20),
     "profit_loss": 0.0, "exit_timestamp": iso(50)},
    {"symbol": "TSLA", "action": "short", "quantity": 2, "price": 300, "timestamp": iso(60),
     "exit_price": 290, "exit_timestamp": iso(65), "fees": 1},
    {"symbol": "MSFT", "action": "Buy", "quantity": 3, "price": 100, "timestamp": iso(80),
     "exit_price": 90, "exit_timestamp": iso(140)},
    {"symbol": "NVDA", "action": "buy", "quantity": 4, "price": 10, "timestamp": iso(100)},
]


@pytest.fixture
def hand() -> dict:
    return compute_metrics(trades_from_source({"trades": HAND}))


def test_counts_and_sums(hand: dict) -> None:
    assert (hand["trades"], hand["open_trades"]) == (5, 1)
    assert (hand["wins"], hand["losses"], hand["breakeven"]) == (2, 2, 1)
    assert hand["net_pnl"] == 37.0
    assert hand["gross_profit"] == 117.0
    assert hand["gross_loss"] == -80.0
    assert hand["fees"] == 3.0


def test_rates_and_ratios(hand: dict) -> None:
    assert hand["win_rate"] == 40.0, "break-even counts as a closed trade that did not win"
    assert hand["profit_factor"] == pytest.approx(117 / 80, rel=1e-15)
    assert hand["expectancy"] == pytest.approx(7.4, rel=1e-15)
    assert hand["avg_win"] == 58.5
    assert hand["avg_loss"] == -40.0
    assert hand["payoff_ratio"] == pytest.approx(58.5 / 40, rel=1e-15)
    assert hand["largest_win"] == 98.0
    assert hand["largest_loss"] == -50.0


def test_drawdown_streaks_holding_and_r(hand: dict) -> None:
    assert hand["max_drawdown"] == 80.0
    assert hand["max_consecutive_wins"] == 1, "the break-even trade between two wins ends the run"
    assert hand["max_consecutive_losses"] == 2
    assert hand["avg_holding_minutes"] == pytest.approx((30 + 30 + 5 + 60 + 60) / 5)
    assert hand["avg_r"] == pytest.approx((1.96 - 0.5) / 2)
    rows = hand["per_trade"]
    assert [r["index"] for r in rows] == [0, 2, 3, 1, 4], "ordered by exit time"
    assert [r["cumulative_pnl"] for r in rows] == [98, 98, 117, 67, 37]
    assert [r["drawdown"] for r in rows] == [0, 0, 0, 50, 80]
    assert [r["r_multiple"] for r in rows] == [pytest.approx(1.96), None, None, pytest.approx(-0.5), None]
    assert rows[0]["closed_at"] == "2025-12-02T09:30:00Z"


def test_sides_symbols_and_open_positions(hand: dict) -> None:
    assert hand["long"] == {
        "trades": 3, "wins": 1, "losses": 1, "breakeven": 1, "net_pnl": 68.0,
        "win_rate": pytest.approx(100 / 3), "profit_factor": pytest.approx(98 / 30), "expectancy": pytest.approx(68 / 3),
    }
    assert hand["short"] == {
        "trades": 2, "wins": 1, "losses": 1, "breakeven": 0, "net_pnl": -31.0,
        "win_rate": 50.0, "profit_factor": pytest.approx(19 / 50), "expectancy": -15.5,
    }
    assert hand["by_symbol"] == {
        "AAPL": {"trades": 2, "wins": 1, "losses": 0, "net_pnl": 98.0, "win_rate": 50.0, "profit_factor": None},
        "MSFT": {"trades": 2, "wins": 0, "losses": 2, "net_pnl": -80.0, "win_rate": 0.0, "profit_factor": 0.0},
        "TSLA": {"trades": 1, "wins": 1, "losses": 0, "net_pnl": 19.0, "win_rate": 100.0, "profit_factor": None},
    }
    assert hand["open_positions"] == [
        {"index": 5, "symbol": "NVDA", "side": "long", "quantity": 4.0, "entry_price": 10.0, "opened_at": "2025-12-02T10:40:00Z"}
    ]


def test_key_order_is_fixed_and_json_has_full_precision(hand: dict) -> None:
    assert list(hand)[:8] == ["trades", "open_trades", "wins", "losses", "breakeven", "net_pnl", "gross_profit", "gross_loss"]
    text = json.dumps(hand, allow_nan=False)
    assert '"profit_factor": 1.4625' in text
    assert '"win_rate": 33.333333333333336' in text, "no rounding in the JSON"


def test_all_wins() -> None:
    m = compute_metrics([closed(10, 0), closed(5.5, 1), closed(0.25, 2)])
    assert (m["wins"], m["losses"], m["win_rate"]) == (3, 0, 100.0)
    assert m["profit_factor"] is None, "undefined without losses"
    assert m["avg_loss"] is None and m["payoff_ratio"] is None and m["largest_loss"] is None
    assert m["gross_loss"] == 0.0 and m["max_drawdown"] == 0.0
    assert m["max_consecutive_wins"] == 3 and m["max_consecutive_losses"] == 0


def test_all_losses() -> None:
    m = compute_metrics([closed(-10, 0), closed(-5, 1)])
    assert m["win_rate"] == 0.0
    assert m["profit_factor"] == 0.0, "no gross profit over a real loss is 0, not undefined"
    assert m["avg_win"] is None and m["payoff_ratio"] is None and m["largest_win"] is None
    assert m["largest_loss"] == -10.0
    assert m["max_drawdown"] == 15.0, "the curve starts at 0, so the first loss is already a drawdown"
    assert m["max_consecutive_losses"] == 2


def test_single_trade_and_break_even_only() -> None:
    one = compute_metrics([closed(42.5, 0)])
    assert one["trades"] == 1 and one["net_pnl"] == 42.5 and one["expectancy"] == 42.5
    assert one["max_drawdown"] == 0.0 and one["avg_holding_minutes"] == 0.0
    flat = compute_metrics([closed(0.0, 0), closed(0.0, 1)])
    assert (flat["wins"], flat["losses"], flat["breakeven"]) == (0, 0, 2)
    assert flat["win_rate"] == 0.0 and flat["profit_factor"] is None and flat["net_pnl"] == 0.0
    assert flat["max_consecutive_wins"] == 0 and flat["max_consecutive_losses"] == 0


def test_no_closed_trades() -> None:
    open_only = Trade(symbol="X", side="long", quantity=1, entry_price=1, entry_time=T0, index=0)
    m = compute_metrics([open_only])
    assert m["trades"] == 0 and m["open_trades"] == 1
    assert m["net_pnl"] == 0.0 and m["max_drawdown"] == 0.0
    for key in ("win_rate", "profit_factor", "expectancy", "avg_win", "avg_loss", "avg_holding_minutes", "avg_r"):
        assert m[key] is None, key
    assert compute_metrics([])["per_trade"] == []


def test_shorts_fees_multiplier_and_float_noise() -> None:
    assert price_pnl("short", 5, 380.25, 370.25) == 50.0
    assert price_pnl("long", 2, 5000, 5010, fees=4.5, multiplier=50) == 995.5
    # (100.2 - 100.1) x 10 - 1 is 1.4e-14 in binary floating point: that is break-even, not a win.
    noisy = trade_from_dict({"symbol": "X", "action": "buy", "quantity": 10, "price": 100.1,
                             "timestamp": iso(0), "exit_price": 100.2, "fees": 1.0})
    assert noisy.pnl == 0.0
    assert compute_metrics([noisy])["breakeven"] == 1


def test_profit_loss_wins_over_prices_and_zero_is_kept() -> None:
    t = trade_from_dict({"symbol": "X", "action": "buy", "quantity": 1, "price": 10, "timestamp": iso(0),
                         "exit_price": 20, "profit_loss": 0})
    assert t.pnl == 0.0 and not t.is_open


def test_r_multiple_needs_a_stop_on_the_losing_side() -> None:
    base = {"symbol": "X", "quantity": 2, "price": 100, "timestamp": iso(0), "exit_price": 104}
    long_ok = trade_from_dict({**base, "action": "buy", "stop_loss": 98})
    assert long_ok.r_multiple == pytest.approx(8 / 4)
    assert trade_from_dict({**base, "action": "buy", "stop_loss": 101}).r_multiple is None
    short = trade_from_dict({**base, "action": "sell", "stop_loss": 102})
    assert short.r_multiple == pytest.approx(-8 / 4)
    futures = trade_from_dict({**base, "action": "buy", "stop_loss": 98, "multiplier": 50})
    assert futures.r_multiple == pytest.approx(400 / 200)


def test_holding_time_and_ties_keep_session_order() -> None:
    trades = [closed(1, 0, minutes=5), closed(-1, 1, minutes=5), closed(2, 2, minutes=1)]
    assert [r["index"] for r in compute_metrics(trades)["per_trade"]] == [2, 0, 1]


# -- cross-check against empyrical-reloaded ----------------------------------------------------
#
# empyrical works on returns, not on money. We express the trade P&L so that its primitives
# give our numbers exactly:
# * win rate: batting_average(r, 0) is the share of periods with r > 0, with r = pnl / C;
# * profit factor: omega_ratio(r, annualization=1) is sum(r > 0) / -sum(r < 0), scale-free;
# * net P&L and max drawdown: with equity E = exp(cumulative P&L / s), empyrical's relative
#   drawdown from the running peak is exp(-D / s) - 1 for our absolute drawdown D (exp is
#   monotonic, so the same peak and trough win), and cum_returns_final is exp(net / s) - 1.
#   empyrical anchors the running peak at the starting value, as our curve starts at 0.

empyrical = pytest.importorskip("empyrical")
np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

cents = st.integers(min_value=-500_000, max_value=500_000).map(lambda c: c / 100)
decimals = st.floats(min_value=-1e5, max_value=1e5, allow_nan=False, allow_infinity=False).filter(
    lambda x: x == 0 or abs(x) > 1e-6
)
pnl_lists = st.lists(st.one_of(cents, decimals, st.just(0.0)), min_size=1, max_size=200)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pnl_lists)
def test_metrics_agree_with_empyrical(pnls: list[float]) -> None:
    m = compute_metrics([closed(p, i) for i, p in enumerate(pnls)])
    returns = pd.Series(np.array(pnls) / 1e6)
    batting = empyrical.batting_average(returns, pd.Series(np.zeros(len(pnls))))["batting average"]
    assert m["win_rate"] == pytest.approx(batting * 100, rel=1e-12)
    omega = empyrical.omega_ratio(returns, annualization=1)
    if m["profit_factor"] is None or len(pnls) < 2:
        assert len(pnls) < 2 or math.isnan(omega)
    else:
        assert m["profit_factor"] == pytest.approx(omega, rel=1e-9)

    scale = max(1.0, math.fsum(abs(p) for p in pnls)) / 10
    log_returns = pd.Series(np.expm1(np.array(pnls) / scale))
    net = scale * math.log1p(empyrical.cum_returns_final(log_returns))
    assert m["net_pnl"] == pytest.approx(net, rel=1e-9, abs=1e-9 * scale)
    drawdown = -scale * math.log1p(empyrical.max_drawdown(log_returns))
    assert m["max_drawdown"] == pytest.approx(drawdown, rel=1e-9, abs=1e-9 * scale)


def test_empyrical_check_is_not_vacuous() -> None:
    # The same expressions on the hand-computed session give the hand-computed values.
    pnls = [98, 0, 19, -50, -30]
    scale = 19.7
    log_returns = pd.Series(np.expm1(np.array(pnls, dtype=float) / scale))
    assert -scale * math.log1p(empyrical.max_drawdown(log_returns)) == pytest.approx(80)
    assert scale * math.log1p(empyrical.cum_returns_final(log_returns)) == pytest.approx(37)
    assert empyrical.omega_ratio(pd.Series(np.array(pnls) / 1e6), annualization=1) == pytest.approx(117 / 80)
