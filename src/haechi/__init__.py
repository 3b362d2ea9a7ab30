"""Haechi: an open-source, self-hostable, AI-powered CAPTCHA service."""

__version__ = "0.1.0"
