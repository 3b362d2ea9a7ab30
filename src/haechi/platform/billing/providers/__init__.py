"""Payment providers: one module per provider, each a small typed client."""
