"""Organisations, their members and roles, invitations."""
