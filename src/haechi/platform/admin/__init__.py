"""The operator API: users, organisations, suspension, the mail dead-letter queue."""
