"""Sign-in: passwords, sessions (access JWT + rotating refresh token), the denylist."""
