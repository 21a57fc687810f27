"""The ``flywheel_publish`` hook's work: store each item, rebuild the site once, deploy, report URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flywheel_core import PublishResult

from flywheel_publish_web.build import build_site, site_lock
from flywheel_publish_web.settings import KINDS, PAGE_KINDS, Settings, settings_from_config
from flywheel_publish_web.store import ContentStore, ItemRefused

if TYPE_CHECKING:
    from flywheel_core import PublishContext, PublishItem

__all__ = ["publish", "settings_for"]


def settings_for(table: dict[str, Any], ctx: PublishContext) -> Settings:
    return settings_from_config(table, ctx.config, ctx.target_state_dir("web"))


def publish(items: list[PublishItem], table: dict[str, Any], ctx: PublishContext) -> list[PublishResult]:
    """One result per item; the receipt is the page's URL, the same every time for the same content.

    Only the kinds the target declares (``KINDS``) are enqueued for it; an entry of another
    kind (enqueued before the declaration) fails for good, saying so.
    """
    settings = settings_for(table, ctx)
    store = ContentStore(settings.state_dir)
    if ctx.dry_run:
        return [_dry_run(item, settings) for item in items]
    results: dict[int, PublishResult] = {}
    accepted: list[tuple[PublishItem, dict[str, Any]]] = []
    with site_lock(settings):
        existing = store.records()
        # The most preferred page kind of a session is stored first, so its title names the permalink.
        rank = {kind: i for i, kind in enumerate(PAGE_KINDS)}
        for item in sorted(items, key=lambda i: rank.get(i.kind, len(rank))):
            if item.kind not in KINDS:
                results[item.id] = PublishResult(item.id, False, permanent=True, error=(
                    f"{item.session_id}/{item.kind}: the site does not show {item.kind!r} artifacts "
                    f"(it shows: {', '.join(KINDS)})"))
                continue
            try:
                record, _changed = store.put(item, existing, PAGE_KINDS)
            except ItemRefused as exc:
                results[item.id] = PublishResult(item.id, False, error=f"{item.session_id}/{item.kind}: {exc}")
                continue
            existing = [r for r in existing if (r["session_id"], r["kind"]) != (item.session_id, item.kind)]
            existing.append(record)
            accepted.append((item, record))
        report = build_site(settings, records=existing, verify=False)
        commit = None
        if settings.deploy.get("method") == "git":
            from flywheel_publish_web.deploy import deploy_git

            commit = deploy_git(settings)
    for item, record in accepted:
        key = (item.session_id, item.kind)
        path = report.urls.get(key)
        receipt: dict[str, Any] = {"sha256": record["sha256"]}
        if path is None:
            main = next((p for (sid, _), p in report.urls.items() if sid == item.session_id), None)
            receipt["skipped"] = f"kind {item.kind!r} is not shown on the site (see kinds/downloads)"
            if main is not None:
                receipt["url"] = settings.url(main)
        else:
            receipt["url"] = settings.url(path)
            receipt["path"] = str(settings.site_dir / (path + "index.html" if path.endswith("/") else path))
            if key in report.drafts:
                receipt["draft"] = True
        if commit:
            receipt["commit"] = commit
        results[item.id] = PublishResult(item.id, True, receipt)
    return [results[item.id] for item in items]


def _dry_run(item: PublishItem, settings: Settings) -> PublishResult:
    """What publishing would do, touching nothing: the URL the session's page would have."""
    from flywheel_publish_web.store import ContentStore as Store, _clean, _parse_date, permalink_for

    try:
        meta = _clean(dict(item.meta or {}))
        meta["date"] = _parse_date(meta.get("date"))
    except ItemRefused as exc:
        return PublishResult(item.id, False, error=f"{item.session_id}/{item.kind}: {exc}")
    fixed = [r["permalink"] for r in Store(settings.state_dir).records()
             if r["session_id"] == item.session_id and r.get("permalink")]
    path = fixed[0] if fixed else permalink_for(item.session_type, item.session_id, meta.get("title"), meta["date"])
    return PublishResult(item.id, True, {"dry_run": True, "url": settings.url(path)})
