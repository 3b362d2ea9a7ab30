"""Attackers, one module per challenge type (plus ``common``); each module lists ``ATTACKERS``."""
