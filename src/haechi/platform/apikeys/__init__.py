"""Management API keys (``hak_…``): org-bound, scoped, stored as keyed digests."""
