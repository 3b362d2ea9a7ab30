"""Transactional e-mail: one mailer interface, an outbox with retries and a dead-letter state."""
