"""flywheel-build: the ``build`` session type, from a git repository to README, build log, blog and social posts."""

__version__ = "0.1.0"
__all__ = ["__version__"]
