"""JSON logs, one object a line, with the request id of the request being served."""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
import time
from contextvars import ContextVar
from typing import Any

import orjson

request_id_var: ContextVar[str | None] = ContextVar("haechi_request_id", default=None)
access_logger = logging.getLogger("haechi.access")
# Set by ``configure`` when the root handler is our JSON stream handler: the access log then
# writes its line straight to that stream (see ``log_access``).
_fast_handler: logging.StreamHandler[Any] | None = None

_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


_second = -1
_second_text = ""


def _timestamp(created: float) -> str:
    """ISO 8601 UTC with milliseconds; the seconds part is formatted once per second."""
    global _second, _second_text
    whole = int(created)
    if whole != _second:
        _second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second = whole
    return f"{_second_text}.{int((created - whole) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def log_access(method: str, path: str, status: int, route: str, ms: float, ip: str) -> None:
    """One access-log line per request, the same JSON a ``JsonFormatter`` record gives.

    At thousands of requests a second, ``Logger.info`` (a ``LogRecord``, caller lookup, the
    formatter's walk over record attributes) cost as much as a whole bare request (see
    bench/RESULTS.md). When the root handler is our JSON stream handler and nothing else is
    attached to the access logger, the line is built here and written under the handler's lock;
    otherwise (tests capturing logs, a custom logging setup) it goes through ``logging``.
    """
    global _pending_bytes
    if not access_logger.isEnabledFor(logging.INFO):
        return
    handler = _fast_handler
    if handler is None or access_logger.handlers or logging.getLogger().handlers != [handler]:
        access_logger.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={"status": status, "route": route, "ms": ms, "ip": ip},
        )
        return
    entry: dict[str, Any] = {
        "ts": _timestamp(time.time()),
        "level": "info",
        "logger": "haechi.access",
        "msg": f"{method} {path} {status}",
    }
    request_id = request_id_var.get()
    if request_id:
        entry["request_id"] = request_id
    entry["status"] = status
    entry["route"] = route
    entry["ms"] = ms
    entry["ip"] = ip
    line = orjson.dumps(entry, default=str).decode() + "\n"
    loop = _loop
    # (``asyncio.get_running_loop`` would cost a getpid system call per request.)
    if loop is None or threading.get_ident() != _loop_thread or not loop.is_running():
        _write(handler, line)  # not on the app's event loop: write now
        return
    _pending.append(line)
    _pending_bytes += len(line)
    if _pending_bytes >= ACCESS_BUFFER_BYTES:
        flush_access_log()
    elif len(_pending) == 1:
        loop.call_later(ACCESS_FLUSH_SECONDS, flush_access_log)


# Access lines written on the event loop wait here for at most ACCESS_FLUSH_SECONDS (or until
# ACCESS_BUFFER_BYTES pile up), then leave in one write: one system call per request was a
# tenth of a bare request's cost (bench/RESULTS.md). A process killed outright loses at most
# that much of its access log; a clean shutdown flushes it (``flush_access_log``).
ACCESS_FLUSH_SECONDS = 0.05
ACCESS_BUFFER_BYTES = 64 * 1024
_pending: list[str] = []
_pending_bytes = 0
_loop: asyncio.AbstractEventLoop | None = None
_loop_thread = 0


def bind_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Buffer the access lines written on ``loop``'s thread while it runs (the app's startup
    calls this; ``None`` unbinds, and the lines are written at once again)."""
    global _loop, _loop_thread
    flush_access_log()
    _loop, _loop_thread = loop, threading.get_ident()


def flush_access_log() -> None:
    """Write the access lines waiting in the buffer (the app's shutdown calls this)."""
    global _pending_bytes
    handler = _fast_handler
    if not _pending:
        return
    text = "".join(_pending)
    _pending.clear()
    _pending_bytes = 0
    if handler is not None:
        _write(handler, text)


def _write(handler: logging.StreamHandler[Any], text: str) -> None:
    handler.acquire()
    try:
        handler.stream.write(text)
        handler.flush()
    except Exception:
        handler.handleError(logging.LogRecord("haechi.access", logging.INFO, "", 0, text, (), None))
    finally:
        handler.release()


def configure(level: str = "INFO", json_format: bool = True) -> None:
    global _fast_handler
    flush_access_log()
    handler = logging.StreamHandler(sys.stderr)
    _fast_handler = handler if json_format else None
    if json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our middleware writes the access log, with the request id.
    logging.getLogger("uvicorn.access").disabled = True
    # Alembic announces each of its own plugins at INFO on every migration: noise.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


atexit.register(flush_access_log)
