"""flywheel target ``github``: artifacts committed to a git repository, optionally GitHub Releases."""
