"""flywheel target ``bluesky``: social posts to Bluesky (facets, link card, images, threads), exactly once."""
