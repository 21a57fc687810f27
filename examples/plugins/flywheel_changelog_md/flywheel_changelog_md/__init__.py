"""flywheel-changelog-md: a Keep a Changelog entry per build session, kept in your CHANGELOG.md."""
