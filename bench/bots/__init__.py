"""Haechi's bot zoo and people harness: ``python -m bench.bots.run`` (``make bench-bots``)."""
