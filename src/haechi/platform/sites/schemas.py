"""What goes in and out of the sites API.

Hostnames are normalised on the way in, so that what is stored can be compared byte for byte
with the hostname a browser reports (normalised the same way):

- lowercase; internationalised names IDNA-encoded (UTS #46, as browsers do): ``Bücher.example``
  is stored as ``xn--bcher-kva.example``; one trailing dot is dropped;
- a hostname only: no scheme, port, path, query, user or whitespace (``http://x``, ``x:80`` and
  ``a b`` are refused rather than cleaned up, so a mistake is seen, not guessed at);
- ``localhost``, IPv4 literals (dotted quad) and IPv6 literals (with or without brackets; stored
  without, compressed: ``::1``);
- otherwise at least two labels (``intranet`` alone is refused, as is a numeric last label such
  as ``1.2.3``, which is neither a name nor an address);
- ``*.example.com``: any subdomain of example.com, at any depth, but not example.com itself
  (list both for both). The wildcard is the whole first label only, never on an address, and
  needs at least two labels after it: ``*.com`` and ``*.localhost`` are refused. Without a
  public-suffix list ``*.co.uk`` cannot be told apart from ``*.example.com`` and is accepted.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import datetime
from typing import Annotated

import idna
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from haechi.platform.sites.models import SecurityLevel, WidgetMode

MAX_HOSTNAMES = 50
_MAX_HOSTNAME = 253
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_NOT_A_HOSTNAME = re.compile(r"[/\\?#@\s]")


def normalise_hostname(value: str) -> str:
    """The canonical form of a hostname or hostname pattern; ValueError when it is not one."""
    host = value.strip().lower()
    if not host:
        raise ValueError("hostname is empty")
    if "://" in host or _NOT_A_HOSTNAME.search(host):
        raise ValueError(
            f"{value!r} is not a bare hostname: no scheme, path, port or spaces (e.g. example.com)"
        )
    if host.startswith("[") and host.endswith("]"):
        return _ipv6(host[1:-1], value)
    if ":" in host:
        return _ipv6(host, value)
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass

    wildcard = host.startswith("*.")
    name = host.removeprefix("*.").removesuffix(".")
    if "*" in name:
        raise ValueError(
            f"{value!r}: a wildcard must be the whole first label, as in *.example.com"
        )
    name = _to_ascii(name, value)
    labels = name.split(".")
    if len(name) > _MAX_HOSTNAME:
        raise ValueError(f"{value!r} is longer than {_MAX_HOSTNAME} characters")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{value!r} is not a valid hostname")
    if labels[-1].isdigit():
        raise ValueError(f"{value!r} is neither a hostname nor an IP address")
    if wildcard:
        if len(labels) < 2:
            raise ValueError(f"{value!r} is too broad: name at least a domain, *.example.com")
        return f"*.{name}"
    if len(labels) < 2 and name != "localhost":
        raise ValueError(f"{value!r} needs a domain (example.com); only localhost stands alone")
    return name


def _ipv6(host: str, value: str) -> str:
    try:
        return str(ipaddress.IPv6Address(host))
    except ValueError:
        raise ValueError(
            f"{value!r} is not a bare hostname or IP address (no port: use example.com, not "
            "example.com:8080)"
        ) from None


def _to_ascii(name: str, value: str) -> str:
    if name.isascii():
        # Plain names are checked by _LABEL (letters, digits, inner hyphens); only an existing
        # A-label must also decode, and idna is stricter than browsers about other hyphens.
        if any(label.startswith("xn--") for label in name.split(".")):
            try:
                idna.decode(name)
            except idna.IDNAError:
                raise ValueError(f"{value!r} has an invalid xn-- label") from None
        return name
    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise ValueError(f"{value!r} is not a valid internationalised hostname") from None


def _unique(hostnames: list[str]) -> list[str]:
    return list(dict.fromkeys(hostnames))


Hostname = Annotated[str, StringConstraints(max_length=1024), AfterValidator(normalise_hostname)]
Hostnames = Annotated[
    list[Hostname], Field(min_length=1, max_length=MAX_HOSTNAMES), AfterValidator(_unique)
]
SiteName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class SiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SiteName
    hostnames: Hostnames
    security_level: SecurityLevel = "medium"
    widget_mode: WidgetMode = "managed"


class SiteUpdate(BaseModel):
    """Fields left out (or null) stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: SiteName | None = None
    hostnames: Hostnames | None = None
    security_level: SecurityLevel | None = None
    widget_mode: WidgetMode | None = None
    active: bool | None = None


class SitePublic(BaseModel):
    """A site as its owner sees it: never the secret, never a digest."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    sitekey: str
    hostnames: list[str]
    security_level: SecurityLevel
    widget_mode: WidgetMode
    active: bool
    is_demo: bool
    # Until then the secret from before the last rotation is still accepted.
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SitesPublic(BaseModel):
    data: list[SitePublic]
    count: int


class SiteCreated(SitePublic):
    """Returned once, on creation or rotation: the plaintext secret is not kept anywhere."""

    secret: str
