"""flywheel-trade: the ``trade`` session type (journal, metrics, equity chart, social post, CSV import)."""

__version__ = "0.1.0"
