"""Domain errors. Services raise these; one handler per surface maps them to a response.

The platform API renders them as RFC 9457 problem+json; the edge protocol (/v1/*) renders
``{"v": 1, "error": {"code", "message"}}``; /siteverify and its aliases never raise them and
answer in their vendors' shapes instead.
"""

from __future__ import annotations


class HaechiError(Exception):
    status = 400
    code = "bad-request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Invalid(HaechiError):
    status = 400
    code = "invalid"


class NotFound(HaechiError):
    status = 404
    code = "not-found"


class Conflict(HaechiError):
    status = 409
    code = "conflict"


class Unauthorized(HaechiError):
    """Not signed in, or the credentials are not (or no longer) valid."""

    status = 401
    code = "unauthorized"
    headers = {"www-authenticate": "Bearer"}


class Forbidden(HaechiError):
    status = 403
    code = "forbidden"


class PreconditionFailed(HaechiError):
    """``If-Match`` named another version than the current one."""

    status = 412
    code = "precondition-failed"


class PayloadTooLarge(HaechiError):
    status = 413
    code = "payload-too-large"


class UnsupportedMediaType(HaechiError):
    status = 415
    code = "unsupported-media-type"


class RateLimited(HaechiError):
    status = 429
    code = "rate-limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(HaechiError):
    """A dependency (store, database) failed: fail closed. Answered with ``Retry-After``."""

    status = 503
    code = "unavailable"
    retry_after: float = 1.0
