"""The ``flywheel_publish`` hook's work: store each item, rebuild the site once, deploy, report URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flywheel_core import PublishResult

from flywheel_publish_web.build import build_site
from flywheel_publish_web.settings import KINDS, Settings, settings_from_config, warn_if_unaddressed
from flywheel_publish_web.store import ContentStore, ItemRefused, is_draft, site_path

if TYPE_CHECKING:
    from flywheel_core import PublishContext, PublishItem

__all__ = ["publish", "receipt_for", "settings_for"]


def settings_for(table: dict[str, Any], ctx: PublishContext) -> Settings:
    return settings_from_config(table, ctx.config, ctx.target_state_dir("web"))


def receipt_for(record: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """What publishing a record reports: its URL and file, from the record alone (so a dry run,
    which stores nothing, reports exactly what the real run will)."""
    path = site_path(record)
    receipt: dict[str, Any] = {
        "url": settings.url(path),
        "path": str(settings.site_dir / (path + "index.html" if path.endswith("/") else path)),
        "sha256": record["sha256"],
    }
    if is_draft(record):
        receipt["draft"] = True
    return receipt


def publish(items: list[PublishItem], table: dict[str, Any], ctx: PublishContext) -> list[PublishResult]:
    """One result per item; the receipt is the page's URL, the same every time for the same content.

    Only the kinds the target declares (``KINDS``) are enqueued for it; an entry of another
    kind (enqueued before the declaration) fails for good, saying so. A dry run checks and
    addresses every item exactly as publishing does, and writes nothing.
    """
    settings = settings_for(table, ctx)
    warn_if_unaddressed(settings)
    with ContentStore(settings, migrate=not ctx.dry_run) as store:
        return _publish(items, settings, store, ctx)


def _publish(items: list[PublishItem], settings: Settings, store: ContentStore, ctx: PublishContext) -> list[PublishResult]:
    results: dict[int, PublishResult] = {}
    accepted: list[tuple[PublishItem, dict[str, Any], dict[str, bytes]]] = []
    for item in items:
        if item.kind not in KINDS:
            results[item.id] = PublishResult(item.id, False, permanent=True, error=(
                f"{item.session_id}/{item.kind}: the site does not show {item.kind!r} artifacts "
                f"(it shows: {', '.join(KINDS)})"))
            continue
        try:
            record, blobs = store.prepare(item)
        except ItemRefused as exc:
            results[item.id] = PublishResult(item.id, False, error=f"{item.session_id}/{item.kind}: {exc}")
            continue
        accepted.append((item, record, blobs))
    commit = None
    if accepted and not ctx.dry_run:
        # Stored, built and deployed under one lock shared by every machine: each deploy is
        # built from every record stored before it, so none drops another machine's pages.
        with store.lock():
            for _item, record, blobs in accepted:
                store.put(record, blobs)
            build_site(settings, verify=False, store=store)
            if settings.deploy.get("method") == "git":
                from flywheel_publish_web.deploy import deploy_git

                commit = deploy_git(settings)
    for item, record, _blobs in accepted:
        receipt = receipt_for(record, settings)
        if commit:
            receipt["commit"] = commit
        results[item.id] = PublishResult(item.id, True, receipt)
    return [results[item.id] for item in items]
