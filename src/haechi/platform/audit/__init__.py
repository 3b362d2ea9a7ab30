"""The audit log: append-only, per organisation, secrets masked."""
