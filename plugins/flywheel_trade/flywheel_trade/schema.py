"""The JSON Schema fragment of a trade session (merged by core into the envelope schema)."""

from __future__ import annotations

from typing import Any

__all__ = ["TRADE_SCHEMA", "ACTION_PATTERN", "NUMBER_TEXT_PATTERN"]

# ECMA-262 has no inline (?i) flag, so case-insensitivity is spelled out: editors and other
# validators reading `flywheel schema trade` must understand the pattern too.
ACTION_PATTERN = r"^\s*([Bb][Uu][Yy]|[Ss][Ee][Ll][Ll]|[Ll][Oo][Nn][Gg]|[Ss][Hh][Oo][Rr][Tt])\s*$"

#: A number an agent wrote as text: "175.50", "$175.50", "1,234.5" (US grouping). Read as the number,
#: with a warning; "1.234,5", "NaN" or "175.50 USD" are refused.
NUMBER_TEXT_PATTERN = r"^\s*[+-]?\s*\$?\s*(\d{1,3}(,\d{3})+(\.\d+)?|\d+(\.\d*)?|\.\d+)\s*$"
_POSITIVE = {
    "type": ["number", "string"],
    "exclusiveMinimum": 0,
    "pattern": NUMBER_TEXT_PATTERN,
    "x-error": "must be a number greater than 0",
}
_OPTIONAL_POSITIVE = {**_POSITIVE, "type": ["number", "string", "null"]}
_AMOUNT = {"type": ["number", "string", "null"], "pattern": NUMBER_TEXT_PATTERN, "x-error": "must be a number"}
_TIMESTAMP = {
    "type": "string",
    "format": "flywheel-timestamp",
    "x-error": "must be an ISO 8601 timestamp such as 2025-12-02T03:00:00Z",
}

#: Ceilings of the session's prose, in characters, far past any real session: a 50 MB note was
#: published as a 50 MB journal. A trade's note and each text of a narrative field (market_analysis,
#: lessons, ...: text, a list or an object of texts) hold prose; a list holds at most ITEMS.
PROSE, ITEMS = 100_000, 1_000
NARRATIVE_FIELDS = ("market_analysis", "what_worked", "what_didnt_work", "lessons", "next_goals")
_NARRATIVE = {  # no "type": maxLength binds a string, maxItems a list, additionalProperties an object
    "maxLength": PROSE,
    "maxItems": ITEMS,
    "items": {"maxLength": PROSE, "additionalProperties": {"maxLength": PROSE}},
    "additionalProperties": {"maxLength": PROSE},
}

_TRADE: dict[str, Any] = {
    "type": "object",
    "description": "One trade. buy = long, sell = short. Fields not listed here are kept.",
    "required": ["symbol", "action", "quantity", "price", "timestamp"],
    "properties": {
        "symbol": {"type": "string", "minLength": 1, "pattern": r"\S", "x-error": "must be a non-empty string"},
        "action": {
            "type": "string",
            "pattern": ACTION_PATTERN,
            "x-error": "must be buy or sell (long and short are accepted too, in any case)",
        },
        "quantity": {**_POSITIVE, "description": "Size (shares, contracts, units); always positive."},
        "price": {**_POSITIVE, "description": "Entry price."},
        "timestamp": {**_TIMESTAMP, "description": "Entry time; without a zone it is read as UTC."},
        "exit_price": {
            "type": ["number", "string", "null"],
            "minimum": 0,
            "pattern": NUMBER_TEXT_PATTERN,
            "x-error": "must be a number, 0 or more",
            "description": "Exit price (0 for an option that expired worthless); with it the P&L can be computed.",
        },
        "exit_timestamp": {**_TIMESTAMP, "type": ["string", "null"], "description": "Exit time."},
        "profit_loss": {
            **_AMOUNT,
            "description": "Net P&L of the trade after fees; 0 is break-even. Wins over a P&L computed from prices.",
        },
        # Not "minimum": 0: a broker import can net to a rebate. validate warns about a negative value.
        "fees": {**_AMOUNT, "description": "Commissions and fees as a positive cost; negative is a net rebate."},
        "stop_loss": {**_OPTIONAL_POSITIVE, "description": "Initial stop price; gives the trade's R multiple."},
        "multiplier": {**_OPTIONAL_POSITIVE, "description": "Contract multiplier (point value); 1 when absent."},
        "notes": {"type": ["string", "null"], "maxLength": PROSE},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}

#: A close of a position opened before the session (``collect trade`` writes them): listed in the
#: journal, left out of every metric, since its entry price is unknown.
_CARRIED: dict[str, Any] = {
    "type": "object",
    "description": "Part of a position opened before the session and closed in it; in no metric.",
    "required": ["symbol", "action", "quantity"],
    "properties": {
        "symbol": _TRADE["properties"]["symbol"],
        "action": {**_TRADE["properties"]["action"], "description": "Side of the position: buy = it was long."},
        "quantity": _TRADE["properties"]["quantity"],
        "exit_price": _TRADE["properties"]["exit_price"],
        "exit_timestamp": _TRADE["properties"]["exit_timestamp"],
        "fees": _TRADE["properties"]["fees"],
        "multiplier": _TRADE["properties"]["multiplier"],
    },
}

# Declared totals are only compared, never used: text such as "$1,050.50" or "80%" is read as the
# number it writes, and text that is no number is a warning, not a refused session.
_DECLARED = {"type": ["number", "string", "null"]}

TRADE_SCHEMA: dict[str, Any] = {
    "required": ["source_data"],
    "properties": {
        **{field: _NARRATIVE for field in NARRATIVE_FIELDS},
        "metadata": {
            "type": "object",
            "description": "Totals the agent declared; flywheel recomputes and compares them.",
            "properties": {
                "trades_executed": {"type": ["integer", "string", "null"], "minimum": 0},
                "total_pnl": _DECLARED,
                "win_rate": {"type": ["number", "string", "null"], "minimum": 0, "maximum": 100},
                "max_drawdown": _DECLARED,
                "account": {"type": "string"},
            },
        },
        "source_data": {
            "type": "object",
            "required": ["trades"],
            "properties": {
                "trades": {"type": "array", "items": _TRADE},
                "carried_in": {"type": "array", "items": _CARRIED},
                "market_conditions": {"type": "object"},
                **{field: _NARRATIVE for field in NARRATIVE_FIELDS},  # read there when not at the top
            },
        },
    },
}
