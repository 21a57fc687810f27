"""What hooks receive besides the session: the run context and the publish context."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import attrs

from flywheel_core.types import PluginRegistry, Problem, PublishItem

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.models import Session

__all__ = ["RunContext", "PublishContext"]


@attrs.define
class RunContext:
    """Everything a pipeline hook may need, so hooks gain abilities without new arguments.

    ``session_path`` is the session file (None when the session came from elsewhere, e.g.
    ``flywheel collect``); ``artifact_dir`` is ``<out>/<session_type>/<session_id>``.
    """

    config: Config
    host: PluginRegistry
    session_path: Path | None = None
    artifact_dir: Path | None = None
    dry_run: bool = False
    problems: list[Problem] = attrs.field(factory=list)
    #: Informational lines for the user (``ctx.note``): printed as ``note:``, never a problem.
    notes: list[str] = attrs.field(factory=list)
    log: logging.Logger = attrs.field(factory=lambda: logging.getLogger("flywheel"))
    #: Every (template name, context) rendered in this run, in order: ``flywheel context`` shows them.
    rendered: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)

    @property
    def session_dir(self) -> Path:
        """The folder untrusted relative paths in the session are resolved against."""
        return self.session_path.parent.resolve() if self.session_path else Path.cwd().resolve()

    @property
    def allowed_roots(self) -> list[Path]:
        """Folders a session may name files in: its own folder and the config's media_roots."""
        return [self.session_dir, *self.config.media_roots]

    def warn(self, message: str, path: str = "$") -> None:
        """Record a warning about the session; printed by the CLI, never fatal."""
        from flywheel_core.schema import mask_suspicious

        # A warning may quote a session's value (repo_path '/srv/AKIA…/app'): printed, kept in
        # --json output and cron logs, it is masked as error lines are.
        self.problems.append(Problem.warning(mask_suspicious(message), path))

    def note(self, message: str) -> None:
        """Record something the user may want to know that is no problem (rows skipped on purpose)."""
        from flywheel_core.schema import mask_suspicious

        self.notes.append(mask_suspicious(message))

    def render(self, template: str, /, **context: Any) -> str:
        """Render a template by name (e.g. ``build/readme.md.j2``) with StrictUndefined.

        Names ending in ``.html``/``.htm`` (before ``.j2``) are autoescaped; Markdown and text
        are not, so ``P&L`` stays ``P&L``. The user's ``templates_dir`` wins over packages.
        """
        from flywheel_core.render import get_renderer

        self.rendered.append((template, context))
        return get_renderer(self.config, self.host).render(template, **context)

    def plugin_config(self, name: str) -> dict[str, Any]:
        """The ``[plugins.<name>]`` table, validated against the plugin's schema, secrets resolved."""
        return self.config.plugin_config(name)

    def page_url(self, session: Session, kind: str, title: str) -> str | None:
        """The URL the page of ``session``'s ``kind`` artifact titled ``title`` will have on the
        configured website, before it is published (``flywheel_page_url``); None when no enabled
        target gives that kind a page. Pass the same title the artifact gets."""
        return self.host.pm.hook.flywheel_page_url(session=session, kind=kind, title=title, config=self.config)


@attrs.define
class PublishContext:
    """Passed to ``flywheel_publish``: where the target keeps its state and how to behave."""

    config: Config
    state_dir: Path
    dry_run: bool = False
    log: logging.Logger = attrs.field(factory=lambda: logging.getLogger("flywheel.publish"))
    #: Set by the queue: stores an entry's progress durably (see :meth:`checkpoint`).
    saver: Callable[[int, dict[str, Any]], None] | None = None

    def checkpoint(self, item: PublishItem, progress: dict[str, Any]) -> None:
        """Record, durably and at once, how far publishing ``item`` got (JSON-serialisable).

        A target that publishes an item in several steps (the parts of a thread, an upload
        then a post) calls this after each confirmed step; if the process dies, the next
        attempt receives it as ``item.progress`` and resumes instead of repeating. Replaces
        the previous progress; ``item.progress`` is updated too. A no-op in a dry run.
        """
        item.progress = dict(progress)
        if self.saver is not None and not self.dry_run:
            self.saver(item.id, item.progress)

    def target_state_dir(self, target: str) -> Path:
        """A private folder for one target (its cache clone, its site content)."""
        path = self.state_dir / "targets" / target
        path.mkdir(parents=True, exist_ok=True)
        return path
