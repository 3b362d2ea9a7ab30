"""Usage: the edge's counters rolled up into SQL exactly once, and the analytics read from them."""
