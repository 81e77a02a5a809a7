"""Synthetic two-domain street scenes for ``make demo``."""
