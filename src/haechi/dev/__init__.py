"""Development aids that ship with the package but never run in production (``haechi dev``)."""
