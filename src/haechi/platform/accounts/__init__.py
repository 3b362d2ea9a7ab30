"""Accounts: sign-up, e-mail verification, password reset, change of e-mail, deletion."""
