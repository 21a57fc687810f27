"""Jinja2 rendering for plugins: StrictUndefined, autoescape for HTML only, user templates first."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_core.errors import FlywheelError

if TYPE_CHECKING:
    import jinja2

    from flywheel_core.config import Config
    from flywheel_core.types import PluginRegistry

__all__ = ["Renderer", "get_renderer", "TemplateError", "capitalize_first", "md_escape", "md_inline"]


class TemplateError(FlywheelError):
    """A template is missing, broken, or used an undefined value (exit 1, names the template)."""


def _is_html(name: str | None) -> bool:
    return bool(name) and bool(re.search(r"\.html?(\.j2|\.jinja2?)?$", name))


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md_escape(text: Any) -> str:
    """Escape Markdown syntax in untrusted text so it shows literally (``[x](javascript:..)``)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def md_inline(text: Any) -> str:
    """Untrusted text as one Markdown-escaped line (newlines folded to spaces)."""
    return md_escape(" ".join(str(text).split()))


def capitalize_first(text: Any) -> str:
    """The first letter upper case, the rest as written (Jinja's ``capitalize`` lowers ``MSFT``)."""
    text = str(text)
    return text[:1].upper() + text[1:]


class Renderer:
    """A Jinja2 environment over ``templates_dir`` (if set) then each plugin's template folders."""

    def __init__(self, search_path: list[Path]) -> None:
        import jinja2

        self.search_path = search_path
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(p) for p in search_path]),
            undefined=jinja2.StrictUndefined,
            autoescape=_is_html,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            bytecode_cache=_bytecode_cache(),
        )
        self.env.filters["md"] = md_escape
        self.env.filters["md_inline"] = md_inline
        # Social posts (flywheel_core.posts): session text made inert, cut, or marked optional.
        from flywheel_core.social import clip, defang, optional, sentences

        self.env.filters.update(defang=defang, clip=clip, optional=optional, sentences=sentences)
        self.env.filters["capitalize_first"] = capitalize_first
        self.env.globals["optional"] = optional

    def render(self, template: str, /, **context: Any) -> str:
        import jinja2

        try:
            return self.env.get_template(template).render(**context)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(
                f"template {exc.name!r} not found in: {', '.join(map(str, self.search_path)) or '(none)'}"
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{exc.filename or template}:{exc.lineno}: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"template {template!r}: {exc.message}") from None

    def render_string(self, source: str, /, *, html: bool = False, **context: Any) -> str:
        """Render a template given as text (``flywheel render --template``)."""
        import jinja2

        env = self.env.overlay(autoescape=html)
        try:
            return env.from_string(source).render(**context)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"line {exc.lineno}: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(exc.message or "undefined value") from None


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept in the user's cache folder, so a run loads them instead of compiling
    them again (about 7 ms a template, most of a small run's rendering). Jinja2 checks each
    entry against its template's source and Python version, and compiles a changed one afresh."""
    import jinja2

    from flywheel_core.cachedir import user_cache_folder

    folder = user_cache_folder()
    if folder is None:
        return None
    folder = folder / "templates"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:  # a read-only home: compile every time, as before
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


# One renderer (one Jinja2 environment, each template compiled once) per config and plugin set.
_CACHE: dict[tuple, Renderer] = {}


#: Core's own templates (``social/social_post.md.j2``), searched after every plugin's.
CORE_TEMPLATES = Path(__file__).resolve().parent / "templates"


def get_renderer(config: Config, host: PluginRegistry) -> Renderer:
    """The renderer for this config and plugin set (built once per process)."""
    search = ([config.templates_dir] if config.templates_dir else []) + host.template_dirs() + [CORE_TEMPLATES]
    key = tuple(map(str, search))
    if key not in _CACHE:
        _CACHE[key] = Renderer(search)
    return _CACHE[key]
