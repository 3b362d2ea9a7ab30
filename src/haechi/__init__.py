"""Haechi: an open-source, self-hostable, AI-powered CAPTCHA service."""

__version__ = "0.1.0"

from haechi import compiled as _compiled

# The mypyc-built hot path, when `make compile` built it and no source has changed since
# (HAECHI_COMPILED=0 turns it off); before any hot module is imported.
_compiled.install()
