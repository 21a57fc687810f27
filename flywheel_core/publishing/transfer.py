"""``flywheel queue export`` / ``import``: a whole queue as JSON lines, blobs included, to move it between backends.

The stream: a header line ``{"flywheel_queue_export": 1, "schema": N}``; one line per blob
``{"blob": sha256, "base64": ...}``; one line per row ``{"table": name, "row": {...}}`` of
the entries, the session files and the shared stores' documents, every column as stored (times
in seconds since the epoch, JSON columns as JSON). One self-contained file, so it can be piped
from one backend to another: ``flywheel queue export | flywheel -c fleet.toml queue import -``.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Iterable, TextIO

from flywheel_core.errors import UsageError
from flywheel_core.fsutil import sha256_bytes
from flywheel_core.publishing.queue import PublicationQueue
from flywheel_core.publishing.storage import LOCAL_HOST, SCHEMA_VERSION, TABLES

__all__ = ["FORMAT", "export_queue", "import_queue"]

#: The version of the export format (the header's ``flywheel_queue_export``).
FORMAT = 1


def _line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n"


def _portable(table: str, row: dict[str, Any], shared: bool) -> dict[str, Any]:
    """A row as another machine reads it: SQLite keeps session files as "this machine's" ('' or
    no host); the export names the machine, so a shared queue mirrors them only there."""
    if not shared:
        if table == "session_files" and not row.get("host"):
            row = {**row, "host": LOCAL_HOST}
        elif table == "items" and row.get("session_path") and not row.get("session_host"):
            row = {**row, "session_host": LOCAL_HOST}
    return row


def export_queue(queue: PublicationQueue, out: TextIO) -> dict[str, int]:
    """Write the whole queue to ``out``; return how many blobs and rows of each table."""
    counts = {"blobs": 0, **dict.fromkeys(TABLES, 0)}
    out.write(_line({"flywheel_queue_export": FORMAT, "schema": SCHEMA_VERSION}))
    if not queue.exists():
        return counts
    for digest in queue.blobs.digests():
        out.write(_line({"blob": digest, "base64": base64.b64encode(queue.blobs.get(digest)).decode("ascii")}))
        counts["blobs"] += 1
    with queue.storage.transaction(write=False) as tx:
        for table in TABLES:
            for row in tx.dump(table):
                out.write(_line({"table": table, "row": _portable(table, row, queue.storage.shared)}))
                counts[table] += 1
    return counts


def import_queue(queue: PublicationQueue, lines: Iterable[str], *, source: str = "the export") -> dict[str, int]:
    """Load an export into ``queue``, which must hold no entries nor documents yet; entry ids are kept.

    Every row goes in one transaction: a bad line leaves the queue as it was (blobs stored
    before it stay, harmless: they are kept by content).
    """
    counts = {"blobs": 0, **dict.fromkeys(TABLES, 0)}
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in TABLES}
    header = None
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        where = f"{source}: line {number}"
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{where}: not JSON ({exc})") from None
        if header is None:
            if not isinstance(data, dict) or data.get("flywheel_queue_export") != FORMAT:
                raise UsageError(f"{where}: not a flywheel queue export (no header line)")
            if not isinstance(data.get("schema"), int) or data["schema"] > SCHEMA_VERSION:
                raise UsageError(f"{where}: made by a newer flywheel (queue schema {data.get('schema')}); "
                                 "upgrade flywheel-core")
            header = data
            _check_empty(queue)
            continue
        if isinstance(data, dict) and isinstance(data.get("blob"), str):
            try:
                blob = base64.b64decode(data["base64"], validate=True)
            except (KeyError, TypeError, ValueError):
                raise UsageError(f"{where}: $.base64: not base64") from None
            if sha256_bytes(blob) != data["blob"]:
                raise UsageError(f"{where}: blob {data['blob'][:12]} does not match its bytes")
            queue.blobs.put(blob)
            counts["blobs"] += 1
        elif isinstance(data, dict) and data.get("table") in TABLES and isinstance(data.get("row"), dict):
            rows[data["table"]].append(data["row"])
        else:
            raise UsageError(f"{where}: expected a blob or a table row")
    if header is None:
        raise UsageError(f"{source}: is empty: not a flywheel queue export")
    with queue.storage.transaction() as tx:
        for table in TABLES:
            counts[table] = tx.load(table, rows[table])
    return counts


def _check_empty(queue: PublicationQueue) -> None:
    if not queue.exists():
        return
    with queue.storage.transaction(write=False) as tx:
        entries = sum(n for _, _, n in tx.counts()[0])
        documents = sum(1 for _ in tx.dump("documents"))
    if entries or documents:
        raise UsageError(f"{queue.location}: already holds {entries} entries"
                         f"{' and shared documents' if documents else ''}; import into an empty queue")
