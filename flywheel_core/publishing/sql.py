"""The queue's SQL that SQLite and PostgreSQL share, written once; each :class:`Dialect` names how they differ."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import attrs

from flywheel_core.publishing.storage import NewEntry

__all__ = ["Dialect", "POSTGRES", "SQLITE", "claimable_where", "dependents_where", "insert_sql", "insert_values",
           "next_due_sql", "ready", "select_where", "update_sql"]


@attrs.frozen
class Dialect:
    """How one database spells what the queue's statements need."""

    #: A parameter's placeholder.
    mark: str
    #: A condition that always holds, and one that never does.
    true: str
    false: str
    #: The ids an entry's ``waits_for`` (a JSON list) names, as a table ``w`` with a column ``value``...
    waits_for: str
    #: ... and that ``value`` as an id, to compare with ``items.id``.
    waits_for_id: str
    #: The first N characters of ``lease_owner`` (N a parameter).
    owner_prefix: str
    #: Entries after a page's last ``(seq, id)``, and the arguments that takes from it.
    after: str
    after_args: Callable[[tuple[int, int]], tuple[int, ...]]
    #: A list parameter: ``column = ANY(%s)`` (one argument, the list) or ``column IN (?, ?...)``.
    array_args: bool
    #: The same queue serves several machines (PostgreSQL): a session file is known by host and path.
    per_host: bool

    def any_of(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values``: the condition and its arguments (never true for none)."""
        if not values:
            return self.false, []
        if self.array_args:
            return f"{column} = ANY({self.mark})", [values]
        return f"{column} IN ({', '.join(self.mark * len(values))})", values


SQLITE = Dialect(
    mark="?", true="1", false="0",
    waits_for="json_each(items.waits_for) w", waits_for_id="w.value",
    owner_prefix="substr(lease_owner, 1, ?)",
    after="(seq > ? OR (seq = ? AND id > ?))", after_args=lambda after: (after[0], after[0], after[1]),
    array_args=False, per_host=False,
)
POSTGRES = Dialect(
    mark="%s", true="true", false="false",
    waits_for="json_array_elements_text(items.waits_for) AS w(value)", waits_for_id="w.value::bigint",
    owner_prefix="left(lease_owner, %s)",
    after="(seq, id) > (%s, %s)", after_args=tuple,
    array_args=True, per_host=True,
)


def ready(d: Dialect) -> str:
    """An entry every entry it waits for lets go: published, superseded, or gone. (PostgreSQL
    reads what it waits for without locking it: at worst a claim misses an entry let go a moment
    ago, and the next takes it.)"""
    return (f"(waits_for IS NULL OR NOT EXISTS (SELECT 1 FROM {d.waits_for} JOIN items p ON p.id = {d.waits_for_id} "
            "WHERE p.status NOT IN ('published', 'superseded')))")


def claimable_where(
    d: Dialect, target: str, now: float, local_host: str, *, after: tuple[int, int] | None, leased: bool,
) -> tuple[str, list[Any]]:
    """The condition of :meth:`~flywheel_core.publishing.storage.StorageTransaction.claimable`, and its arguments."""
    m = d.mark
    page = f"{d.after} AND " if after else ""
    args: list[Any] = [*(d.after_args(after) if after else ()), target, now]
    if leased:
        which = (f"status = 'publishing' AND (lease_until IS NULL OR lease_until <= {m} OR lease_owner IS NULL "
                 f"OR {d.owner_prefix} = {m})")
        args += [len(local_host) + 1, f"{local_host}:"]
    else:
        which = f"status IN ('queued', 'failed') AND next_attempt_at <= {m} AND {ready(d)}"
    return f"{page}target = {m} AND {which}", args


def next_due_sql(d: Dialect, targets: Iterable[str]) -> tuple[str, list[Any]]:
    """The statement of :meth:`~flywheel_core.publishing.storage.StorageTransaction.next_due`, and its arguments."""
    where, args = d.any_of("target", list(targets))
    return (f"SELECT min(CASE WHEN status = 'publishing' THEN coalesce(lease_until, 0) ELSE next_attempt_at END) "
            f"FROM items WHERE {where} AND (status = 'publishing' OR (status IN ('queued', 'failed') "
            f"AND {ready(d)}))"), args


def select_where(
    d: Dialect,
    host: str,
    *,
    ids: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
    targets: Iterable[str] | None = None,
    session_path: str | None = None,
    unmirrored: bool = False,
    waiting: bool = False,
) -> tuple[str, list[Any]]:
    """The condition of :meth:`~flywheel_core.publishing.storage.StorageTransaction.select`, and its
    arguments; ``host`` is this machine's, for a dialect whose session files are per host."""
    where: list[str] = [d.true]
    args: list[Any] = []
    for column, values in (("id", ids), ("status", statuses), ("target", targets)):
        if values is not None:
            condition, more = d.any_of(column, list(values))
            where.append(condition)
            args += more
    on_host = f" AND session_host = {d.mark}" if d.per_host else ""
    if session_path is not None:
        where.append(f"session_path = {d.mark}{on_host}")
        args += [session_path, host] if d.per_host else [session_path]
    if unmirrored:
        where.append(f"mirrored < revision AND session_path IS NOT NULL{on_host}")
        args += [host] if d.per_host else []
    if waiting:
        where.append("waits_for IS NOT NULL")
    return " AND ".join(where), args


def dependents_where(d: Dialect, ids: list[int]) -> tuple[str, list[Any]]:
    """The condition of :meth:`~flywheel_core.publishing.storage.StorageTransaction.dependents`, and its arguments."""
    condition, args = d.any_of(d.waits_for_id, ids)
    return f"waits_for IS NOT NULL AND EXISTS (SELECT 1 FROM {d.waits_for} WHERE {condition})", args


_INSERTED = ("key target session_id session_type kind ext sha256 seq files meta session_path artifact_path "
             "session_host waits_for").split()


def insert_sql(d: Dialect) -> str:
    """A new row in state ``queued``, due at once; its arguments are :func:`insert_values`."""
    m = d.mark
    return (f"INSERT INTO items ({', '.join(_INSERTED)}, status, attempts, next_attempt_at, created_at, updated_at, "
            f"revision, mirrored) VALUES ({', '.join([m] * len(_INSERTED))}, 'queued', 0, {m}, {m}, {m}, 1, 0)")


def insert_values(entry: NewEntry, json: Callable[[Any], Any]) -> list[Any]:
    """The arguments of :func:`insert_sql`; ``json`` makes a JSON column's value of a Python one."""
    return [entry.key, entry.target, entry.session_id, entry.session_type, entry.kind, entry.ext, entry.sha256,
            entry.seq, json(entry.files), json(entry.meta), entry.session_path, entry.artifact_path,
            entry.session_host, None if entry.waits_for is None else json(entry.waits_for),
            entry.now, entry.now, entry.now]


def update_sql(d: Dialect, names: list[str], *, state: bool) -> str:
    """Set ``names`` and ``updated_at`` of the row whose id is the last argument (and count a
    change of ``state`` in ``revision``)."""
    sets = [f"{n} = {d.mark}" for n in names] + [f"updated_at = {d.mark}"] + (["revision = revision + 1"] if state else [])
    return f"UPDATE items SET {', '.join(sets)} WHERE id = {d.mark}"
