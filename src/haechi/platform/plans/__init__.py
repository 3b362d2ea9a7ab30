"""Plans and quotas (docs/usage-and-billing.md, Plans): the catalogue, each organisation's plan,
its limits on sites and members, and the monthly quota of verified tokens."""
