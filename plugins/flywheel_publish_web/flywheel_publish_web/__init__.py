"""flywheel publication target ``web``: a static website built from published artifacts."""
