"""flywheel-aria: life/creative sessions to a devlog with a screenshot gallery, and social posts."""
