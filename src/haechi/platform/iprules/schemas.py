"""What goes in and out of the IP rules API.

A rule's ``cidr`` is an address (``203.0.113.7``, ``2001:db8::1``) or a network in CIDR form
(``203.0.113.0/24``, ``2001:db8::/32``), normalised on the way in: compressed, lower-case, a
single address stored as ``/32`` or ``/128``. A network with host bits set (``10.0.0.1/8``) is
refused rather than widened, so a typo is seen, not guessed at. An IPv4-mapped IPv6 network
(``::ffff:192.0.2.0/120``) is stored as the IPv4 network it names: the edge sees such clients
as IPv4 (``haechi.core.net``).
"""

from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from haechi.platform.iprules.models import Action


def normalise_cidr(value: str) -> str:
    """The canonical form of an address or network; ValueError when it is neither."""
    text = value.strip().lower()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]" or "[2001:db8::]/32"
        text = text[1:].replace("]", "", 1)
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as error:
        if "host bits set" in str(error):
            wide = ipaddress.ip_network(text, strict=False)
            raise ValueError(
                f"{value!r} has host bits set: did you mean {wide.with_prefixlen}?"
            ) from None
        raise ValueError(
            f"{value!r} is not an IP address or CIDR network (e.g. 203.0.113.0/24, 2001:db8::/32)"
        ) from None
    if isinstance(network, ipaddress.IPv6Network):
        mapped = network.network_address.ipv4_mapped
        if mapped is not None and network.prefixlen >= 96:
            network = ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")
    return network.with_prefixlen


Cidr = Annotated[str, StringConstraints(max_length=64), AfterValidator(normalise_cidr)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class IpRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action
    cidr: Cidr
    note: Note | None = None
    # After this moment the rule no longer applies (the edge honours it without a reload).
    expires_at: datetime | None = None


class IpRuleUpdate(BaseModel):
    """Fields left out stay as they are; ``note`` or ``expires_at`` null clears them."""

    model_config = ConfigDict(extra="forbid")

    action: Action | None = None
    cidr: Cidr | None = None
    note: Note | None = None
    expires_at: datetime | None = None


class IpRulePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    # null: an organisation-wide rule (every site of the organisation).
    site_id: uuid.UUID | None
    action: Action
    cidr: str
    note: str | None
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class IpRulesPage(BaseModel):
    data: list[IpRulePublic]
    # Pass as ``cursor`` for the next page; null on the last page.
    next_cursor: str | None = None


class SiteIpPolicyPublic(BaseModel):
    site_id: uuid.UUID
    # Whether an address on an allow list (the site's or the organisation's) skips friction:
    # no risk scoring, no visual task, token-only proof-of-work. Off by default.
    allow_skips_friction: bool


class SiteIpPolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow_skips_friction: bool
