"""flywheel target ``mastodon``: social posts to a Mastodon account (threads, images), exactly once."""
