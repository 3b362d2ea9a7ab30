"""IP rules: per-organisation and per-site allow/deny lists of addresses and CIDR blocks."""
