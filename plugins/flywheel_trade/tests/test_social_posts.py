"""The social posts of a trade session: one per network, each fitting, linking to the journal's page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flywheel_core import LIMITS, post_length
from flywheel_core.testing import (check_golden, check_posts_in_docs, check_social_posts, numbers_in, social_entities,
                                   social_post_runner)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "examples.md"
BASE = "https://journal.example.org/"
WEB = f'[targets.web]\nbase_url = "{BASE}"\nsite_dir = "site"\n'


@pytest.fixture
def run_with(tmp_path: Path):
    """``run_with(doc, config)``: ``flywheel run`` with the trade plugin and the real web target
    installed, under ``config`` (a flywheel.toml); returns (variants, social_post.md, run record)."""
    return social_post_runner(tmp_path, "trade")


def session_numbers(doc: dict[str, Any], metrics: dict[str, Any]) -> set[str]:
    """Every number a post may state: written in the session, or computed into its metrics
    (money as the journal prints it), its date's parts and its duration in hours and minutes."""
    allowed = numbers_in(json.dumps(doc, ensure_ascii=False))

    def walk(value: Any) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, (int, float)):
            allowed.update({f"{abs(value):,.2f}", f"{abs(value):,.1f}", str(abs(value))})
            if float(value).is_integer():
                allowed.add(f"{abs(int(value)):,}")
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(metrics)
    day = doc["timestamp"][:10]
    allowed.update({day[:4], str(int(day[5:7])), str(int(day[8:10]))})
    minutes = doc.get("metadata", {}).get("duration_minutes")
    if isinstance(minutes, (int, float)):
        allowed.update({str(round(minutes) // 60), str(round(minutes) % 60)})
    return allowed


def test_the_example_s_posts_link_to_its_journal_page(run_with) -> None:
    doc = json.loads((EXAMPLES / "trade_session.json").read_text())
    variants, markdown, data = run_with(doc, WEB)
    link = data["artifacts"]["social_post"]["meta"]["social"]["link"]
    assert link.startswith(f"{BASE}trade/2025/12/trading-journal-2025-12-02-")
    metrics = json.loads((Path(data["artifacts"]["trade_metrics"]["path"])).read_text())
    check_social_posts(variants, link=link, numbers=session_numbers(doc, metrics))
    assert variants["x"][0] == f"Trading, 2 Dec 2025. 2 closed trades on MSFT and AAPL: both won. Net P&L +75.00.\n\nJournal: {link}\n\n#MSFT #AAPL"
    # Both symbols that carry the P&L are tagged where X takes two hashtags (was "#Trading #MSFT").
    assert variants["bluesky"][0].endswith("#MSFT #AAPL") and variants["mastodon"][0].endswith("#MSFT #AAPL #Trading")
    social = data["artifacts"]["social_post"]["meta"]["social"]
    assert social["link_title"] == data["artifacts"]["trade_journal"]["title"] == "Trading journal 2025-12-02"
    assert social["content_warning"] == "Trading P&L, 2 Dec 2025"
    assert social["image"] == {"src": "equity_curve.png", "alt": (  # as docs/examples.md says
        "Equity curve of 2 closed trades on MSFT and AAPL on 2 Dec 2025: cumulative net P&L from 0 to +75.00.")}
    assert "win rate" not in json.dumps(variants).lower(), "a win rate of 2 trades says nothing"
    assert f"- Link: <{link}>" in markdown
    golden("example_social_post_web.json", json.dumps(variants, indent=2, ensure_ascii=False) + "\n")


def test_no_link_without_a_web_target_nor_with_a_disabled_one(run_with) -> None:
    doc = json.loads((EXAMPLES / "trade_session.json").read_text())
    for config in ("", WEB.replace("[targets.web]\n", "[targets.web]\nenabled = false\n")):
        variants, markdown, data = run_with(doc, config)
        check_social_posts(variants, link=None)
        assert "link" not in data["artifacts"]["social_post"]["meta"]["social"]
        assert "- Link: none" in markdown


def test_the_link_is_the_journal_page_the_site_publishes(run_with, tmp_path: Path) -> None:
    variants, _, data = run_with(EXAMPLES / "trade_session.json", WEB, "--publish")
    link = data["artifacts"]["social_post"]["meta"]["social"]["link"]
    session = json.loads((tmp_path / "work_session.json").read_text())
    assert session["artifacts"]["trade_journal"]["published_to"]["web"]["url"] == link
    page = tmp_path / "site" / link.removeprefix(BASE) / "index.html"
    assert page.is_file() and "Trading journal" in page.read_text(encoding="utf-8"), "never a dead link"


def test_a_busy_session_reads_in_words_and_keeps_to_its_numbers(run_with, make_trade, trade_doc) -> None:
    t = make_trade
    trades = [
        t("AAPL", quantity=10, price=100, exit_price=110, exit_timestamp="2025-12-02T03:30:00Z", fees=2),
        t("MSFT", "sell", 5, 200, "2025-12-02T03:10:00Z", exit_price=210, exit_timestamp="2025-12-02T04:10:00Z"),
        t("ESH6", "sell", 2, 5000, "2025-12-02T04:00:00Z", exit_price=4990.25, exit_timestamp="2025-12-02T04:05:00Z",
          multiplier=50, fees=4.2),
        t("MSFT", "buy", 3, 100, "2025-12-02T05:00:00Z", exit_price=90, exit_timestamp="2025-12-02T06:00:00Z", fees=1),
        t("NVDA", quantity=4, price=130.5, timestamp="2025-12-02T07:00:00Z"),
    ]
    doc = trade_doc(trades, metadata={"duration_minutes": 95},
                    lessons=["Size down after two losses.", "Respect the stop."], next_goals="Trade the open only.",
                    what_worked="Waiting for the pullback.")
    variants, _, data = run_with(doc, WEB)
    link = data["artifacts"]["social_post"]["meta"]["social"]["link"]
    metrics = json.loads(Path(data["artifacts"]["trade_metrics"]["path"]).read_text())
    check_social_posts(variants, link=link, numbers=session_numbers(doc, metrics))
    assert metrics["trades"] == 4 and metrics["wins"] == 2 and metrics["losses"] == 2
    assert "Trading, 2 Dec 2025. 4 closed trades on MSFT, ESH6 and AAPL: 2 won and 2 lost. Net P&L +987.80." in variants["x"][0]
    assert "Lesson: Size down after two losses." in variants["x"][0], "the agent's own words, when they fit"
    linkedin = variants["linkedin"][0]
    assert "Over 1 hour 35 minutes, 4 trades closed on MSFT, ESH6 and AAPL: 2 won and 2 lost. Net P&L for the session: +987.80" in linkedin
    assert "What worked: Waiting for the pullback." in linkedin and "Next: Trade the open only." in linkedin
    assert "One position is still open." in linkedin
    assert variants["mastodon"][0].endswith("#Trading #MSFT #ESH6 #AAPL")


def test_the_trader_s_words_are_quoted_as_sentences(run_with, make_trade, trade_doc) -> None:
    # Lists of short items as traders write them: no full stop, a lesson with a title. The posts
    # said "What worked: Waiting for the pullback" then nothing, and "Lesson: Scale out: Taking...".
    trades = [make_trade("AAPL", exit_price=101, exit_timestamp="2025-12-02T03:10:00Z")]
    doc = trade_doc(trades, what_worked=["Waiting for the pullback", "Smaller size"], next_goals=["Trade the open only"],
                    lessons=[{"title": "Scale out", "description": "A partial at the first target kept me in"}])
    variants, _, _ = run_with(doc, WEB)
    linkedin = variants["linkedin"][0]
    assert "\n\nWhat worked: Waiting for the pullback.\n\n" in linkedin
    assert "\n\nLesson: Scale out. A partial at the first target kept me in.\n\n" in linkedin
    assert "\n\nNext: Trade the open only.\n\n" in linkedin
    assert variants["bluesky"][0].split("\n\n")[0] == ("One trade closed on 2 Dec 2025: a long in AAPL for +10.00. What worked: "
                                                       "Waiting for the pullback. Lesson: Scale out. A partial at the first target kept me in.")


def test_hostile_session_text_is_neutralised(run_with, make_trade, trade_doc) -> None:
    note = "@everyone #pump $GME https://evil.example.com/x evil.com \u202eRTL\u202c " + "long note " * 1000
    trades = [make_trade("@everyone", exit_price=101, exit_timestamp="2025-12-02T03:10:00Z", notes=note),
              make_trade("#pump", timestamp="2025-12-02T04:00:00Z", exit_price=99, exit_timestamp="2025-12-02T04:10:00Z")]
    doc = trade_doc(trades, lessons=[note, "x" * 10_000], what_worked=note, next_goals="see https://evil.com",
                    source={"market_conditions": {"trend": note, "@mod": "#up"}})
    variants, markdown, data = run_with(doc, WEB)
    link = data["artifacts"]["social_post"]["meta"]["social"]["link"]
    for network, posts in variants.items():
        assert 1 <= len(posts) <= 12
        for post in posts:
            assert post_length(post, network) <= LIMITS[network]
            assert "\u202e" not in post
            entities = social_entities(post, network)
            assert set(entities) <= {"hashtag", "link"}, (network, entities)
            assert set(entities.get("hashtag", [])) <= {"Trading"}, (network, entities)
            assert set(entities.get("link", [])) <= {link}, (network, entities)
        assert link in "\n".join(posts)
    assert "@\u2060everyone" in variants["linkedin"][0], "shown as written, pinging nobody"
    assert "#\u2060pump" in markdown and "<https://journal.example.org/" in markdown


def test_the_example_s_posts_are_in_docs_examples_md() -> None:
    """docs/examples.md shows readers the posts `flywheel run` writes with a website configured."""
    check_posts_in_docs(GOLDEN / "example_social_post_web.json", DOCS, "## Trade session")


def golden(name: str, text: str) -> None:
    """Compare with tests/golden/NAME; FLYWHEEL_UPDATE_GOLDEN=1 rewrites it (read the diff)."""
    check_golden(GOLDEN / name, text)


def _shape(make_trade, name: str) -> list[dict[str, Any]]:
    """Sessions shaped as traders' days are: one trade, nothing closed, every trade lost..."""
    t = make_trade

    def closed(symbol: str, exit_price: float, hour: int, action: str = "buy") -> dict[str, Any]:
        return t(symbol, action, 10, 100, f"2025-12-02T0{hour}:00:00Z", exit_price=exit_price,
                 exit_timestamp=f"2025-12-02T0{hour}:30:00Z")

    return {
        "one winner": [closed("AAPL", 102.5, 3)],
        "one loser and one open": [closed("AAPL", 102.5, 3, "sell"), t("NVDA", timestamp="2025-12-02T05:00:00Z")],
        "one at break-even": [closed("AAPL", 100, 3)],
        "only open positions": [t("AAPL"), t("MSFT", "sell", 5, 300, "2025-12-02T04:00:00Z")],
        "every trade lost": [closed("AAPL", 99, 3), closed("MSFT", 95, 4), closed("NVDA", 98, 5)],
        "mixed on one symbol": [closed("ESH6", 103, 3), closed("ESH6", 95, 4), closed("ESH6", 100, 5)],
        "a busy day": [closed(s, 100 + (1 if i % 3 else -1) * (i + 1) * 0.5, i % 9 + 1, "buy" if i % 2 else "sell")
                       for i, s in enumerate(["AAPL", "MSFT", "NVDA", "TSLA", "AAPL", "MSFT", "AAPL", "NVDA"])],
    }[name]


#: {shape: (the X post's first line, Bluesky's first paragraph, the journal's opening)}.
SHAPES = {
    "one winner": (
        "Trading, 2 Dec 2025: one trade, a long in AAPL for +25.00.",
        "One trade closed on 2 Dec 2025: a long in AAPL for +25.00.",
        "One trade closed: a long in AAPL for +25.00."),
    "one loser and one open": (
        "Trading, 2 Dec 2025: one trade, a short in AAPL for -25.00.",
        "One trade closed on 2 Dec 2025: a short in AAPL for -25.00.",
        "One trade closed: a short in AAPL for -25.00. One position is still open, on NVDA."),
    "one at break-even": (
        "Trading, 2 Dec 2025: one trade, a long in AAPL that broke even.",
        "One trade closed on 2 Dec 2025: a long in AAPL that broke even.",
        "One trade closed: a long in AAPL that broke even."),
    "only open positions": (
        "Trading, 2 Dec 2025: two positions opened on AAPL and MSFT, none closed yet.",
        "On 2 Dec 2025, two positions opened on AAPL and MSFT, none closed yet: no P&L to tell.",
        "Two open positions on AAPL and MSFT, none closed yet."),
    "every trade lost": (
        "Trading, 2 Dec 2025. 3 closed trades on MSFT, NVDA and AAPL: all 3 lost. Net P&L -80.00.",
        "Three trades closed on 2 Dec 2025, and all 3 lost: a long in AAPL (-10.00), a long in MSFT (-50.00) and a long "
        "in NVDA (-20.00). That makes -80.00 net.",
        "Three trades closed on MSFT, NVDA and AAPL: all 3 lost, for a net P&L of -80.00."),
    "mixed on one symbol": (
        "Trading, 2 Dec 2025. 3 closed trades on ESH6: 1 won, 1 lost and 1 broke even. Net P&L -20.00.",
        "Three trades closed on 2 Dec 2025: a long in ESH6 (+30.00), a long in ESH6 (-50.00) and a long in ESH6 (0.00). "
        "That makes -20.00 net.",
        "Three trades closed on ESH6: 1 won, 1 lost and 1 broke even, for a net P&L of -20.00. The largest fall from a "
        "peak along the way was 50.00 (the max drawdown)."),
    "a busy day": (  # P&L in exit order +5 +10 -15 -20 -25 +30 +35 +40: from the peak of 15 down to -45
        "Trading, 2 Dec 2025. 8 closed trades on AAPL, MSFT, NVDA and TSLA: 5 won and 3 lost. Net P&L +60.00.",
        "8 trades closed on 2 Dec 2025, on AAPL, MSFT, NVDA and TSLA: 5 won and 3 lost. That makes +60.00 net. Best was NVDA +40.00.",
        "8 trades closed on AAPL, MSFT, NVDA and TSLA: 5 won and 3 lost, for a net P&L of +60.00. Win rate 62.5%. Best trade "
        "NVDA +40.00, worst AAPL -25.00. The largest fall from a peak along the way was 60.00 (the max drawdown)."),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_each_shape_of_session_is_told_naturally(run_with, make_trade, trade_doc, shape: str) -> None:
    """A single trade's P&L was said twice ("it won: a long in AAPL (+25.00). That makes +25.00
    net."), one trade was "1 closed trade ... it won", and a mixed result read "1 won, 1 lost, 1
    broke even" then listed the same trades."""
    doc = trade_doc(_shape(make_trade, shape), metadata={"duration_minutes": 95})
    variants, _, data = run_with(doc, WEB)
    x, bluesky, journal_opening = SHAPES[shape]
    assert variants["x"][0].split("\n")[0] == x
    assert variants["bluesky"][0].split("\n\n")[0] == bluesky
    journal = Path(data["artifacts"]["trade_journal"]["path"]).read_text(encoding="utf-8")
    assert journal.split("\n\n")[2] == journal_opening, journal
    assert data["artifacts"]["trade_journal"]["summary"] == journal_opening
    metrics = json.loads(Path(data["artifacts"]["trade_metrics"]["path"]).read_text())
    check_social_posts(variants, link=data["artifacts"]["social_post"]["meta"]["social"]["link"],
                       numbers=session_numbers(doc, metrics))
    for network, posts in variants.items():
        text = posts[0]
        assert "1 closed trades" not in text and "1 positions" not in text and "win rate" not in text.lower(), (network, text)
        if metrics["trades"] == 1:
            pnl = metrics["per_trade"][0]["pnl"]
            assert pnl == 0 or text.count(f"{abs(pnl):.2f}") == 1, f"{network}: the one trade's P&L said once\n{text}"
            assert "both" not in text and "net" not in text.split("\n\n")[1], (network, text)
        if not metrics["trades"]:
            assert "equity curve" not in text and "P&L 0.00" not in text, (network, text)
