"""flywheel core: the public API for plugins and scripts.

Plugins write ``from flywheel_core import hookimpl, Artifact, SessionType``; scripts and agents
``flywheel_core.start_session(...)``, ``.end()``, ``flywheel_core.run_session_file(...)`` (see
``flywheel_core.api``). Names are loaded on first use, so importing ``flywheel_core`` (and
``flywheel --help``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flywheel_core.hookspecs import hookimpl, hookspec
from flywheel_core.lazyexports import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "Artifact": "flywheel_core.types",
    "Problem": "flywheel_core.types",
    "PublishItem": "flywheel_core.types",
    "PublishResult": "flywheel_core.types",
    "SessionType": "flywheel_core.types",
    "Target": "flywheel_core.types",
    "ArtifactRecord": "flywheel_core.models",
    "Session": "flywheel_core.models",
    "parse_timestamp": "flywheel_core.timestamps",
    "RunContext": "flywheel_core.context",
    "PublishContext": "flywheel_core.context",
    "Config": "flywheel_core.config",
    "load_config": "flywheel_core.config",
    "get_host": "flywheel_core.plugins",
    "lazy_command": "flywheel_core.cli",
    "lazy_group": "flywheel_core.cli",
    "private_cache_folder": "flywheel_core.cachedir",
    "FlywheelError": "flywheel_core.errors",
    "InputError": "flywheel_core.errors",
    "PluginError": "flywheel_core.errors",
    "UsageError": "flywheel_core.errors",
    "FileSystemError": "flywheel_core.errors",
    "LockTimeout": "flywheel_core.errors",
    "PathRefused": "flywheel_core.fsutil",
    "atomic_write": "flywheel_core.fsutil",
    "check_git_dir": "flywheel_core.fsutil",
    "confine": "flywheel_core.fsutil",
    "lock_for": "flywheel_core.locks",
    "read_regular_file": "flywheel_core.fsutil",
    "refuse_special": "flywheel_core.fsutil",
    "sha256_bytes": "flywheel_core.fsutil",
    "dumps_strict": "flywheel_core.jsonload",
    "matches_schema": "flywheel_core.schema",
    "emit_session": "flywheel_core.store",
    "md_escape": "flywheel_core.render",
    "md_inline": "flywheel_core.render",
    "scrub_paths": "flywheel_core.localpaths",
    "scrub_session": "flywheel_core.localpaths",
    "scrub_tree": "flywheel_core.localpaths",
    "social_variants": "flywheel_core.social",
    "split_post": "flywheel_core.social",
    "post_length": "flywheel_core.social",
    "PLATFORMS": "flywheel_core.social",
    "LIMITS": "flywheel_core.social",
    "fits": "flywheel_core.social",
    "fit_post": "flywheel_core.social",
    "defang": "flywheel_core.social",
    "clip": "flywheel_core.social",
    "hashtags_for": "flywheel_core.social",
    "compose_social": "flywheel_core.posts",
    "SocialPosts": "flywheel_core.posts",
    "progress": "flywheel_core.progress_bars",
    "track": "flywheel_core.progress_bars",
    "ProgressTask": "flywheel_core.progress_bars",
    "SharedStore": "flywheel_core.publishing.shared",
    "open_shared_store": "flywheel_core.publishing.shared",
    "redact": "flywheel_core.redaction",
    "register_secret": "flywheel_core.redaction",
    "NothingToCollect": "flywheel_core.errors",
    "start_session": "flywheel_core.api",
    "end_session": "flywheel_core.api",
    "run_session_file": "flywheel_core.api",
    "collect_session": "flywheel_core.api",
    "SessionTracker": "flywheel_core.api",
    "Collected": "flywheel_core.pipeline",
    "EndResult": "flywheel_core.tracking",
    "SessionOutcome": "flywheel_core.tracking",
    "ArtifactFile": "flywheel_core.tracking",
    "Receipt": "flywheel_core.tracking",
    "Pending": "flywheel_core.tracking",
    "OpenSession": "flywheel_core.tracking",
}

__all__ = ["__version__", "hookimpl", "hookspec", *_LAZY]


__getattr__, __dir__ = lazy_exports('flywheel_core', _LAZY, globals())


if TYPE_CHECKING:
    from flywheel_core.config import Config, load_config
    from flywheel_core.cachedir import private_cache_folder
    from flywheel_core.cli import lazy_command, lazy_group
    from flywheel_core.plugins import get_host
    from flywheel_core.context import PublishContext, RunContext
    from flywheel_core.api import SessionTracker, collect_session, end_session, run_session_file, start_session
    from flywheel_core.errors import (
        FileSystemError,
        FlywheelError,
        InputError,
        LockTimeout,
        NothingToCollect,
        PluginError,
        UsageError,
    )
    from flywheel_core.pipeline import Collected
    from flywheel_core.tracking import ArtifactFile, EndResult, OpenSession, Pending, Receipt, SessionOutcome
    from flywheel_core.fsutil import (
        PathRefused,
        atomic_write,
        check_git_dir,
        confine,
        read_regular_file,
        refuse_special,
        sha256_bytes,
    )
    from flywheel_core.locks import lock_for
    from flywheel_core.localpaths import scrub_paths, scrub_session, scrub_tree
    from flywheel_core.jsonload import dumps_strict
    from flywheel_core.models import ArtifactRecord, Session
    from flywheel_core.progress_bars import ProgressTask, progress, track
    from flywheel_core.publishing.shared import SharedStore, open_shared_store
    from flywheel_core.redaction import redact, register_secret
    from flywheel_core.render import md_escape, md_inline
    from flywheel_core.schema import matches_schema
    from flywheel_core.store import emit_session
    from flywheel_core.timestamps import parse_timestamp
    from flywheel_core.posts import SocialPosts, compose_social
    from flywheel_core.social import (
        LIMITS,
        PLATFORMS,
        clip,
        defang,
        fit_post,
        fits,
        hashtags_for,
        post_length,
        social_variants,
        split_post,
    )
    from flywheel_core.types import Artifact, Problem, PublishItem, PublishResult, SessionType, Target
