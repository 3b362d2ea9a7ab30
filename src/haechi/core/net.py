"""Who is asking, and from which page: client IP and request hostname."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8192)  # peers repeat: parsing an address costs more than the lookup
def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "1.2.3.4:5678"
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: Sequence[Network]) -> bool:
    return any(ip in net for net in nets)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The socket peer, unless it is a trusted proxy: then the right-most untrusted XFF hop.

    Hops are walked from the right (the one our proxy appended) leftwards, skipping trusted
    proxies; the first untrusted address is the client. Anything unparsable stops the walk and
    the last trusted hop is used, so a forged left part of the header is never believed.
    """
    peer_ip = _parse_ip(peer) if peer else None
    if peer_ip is None:
        return peer or "unknown"
    if not trusted or not forwarded_for or not _trusted(peer_ip, trusted):
        return _text(peer_ip)
    current = peer_ip
    for hop in reversed(forwarded_for.split(",")):
        ip = _parse_ip(hop)
        if ip is None:
            break
        current = ip
        if not _trusted(ip, trusted):
            break
    return _text(current)


@lru_cache(maxsize=8192)
def _text(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return str(ip)


def hostname_from_headers(origin: str | None, referer: str | None) -> str | None:
    """Hostname of the page that made the request: ``Origin``, else ``Referer``; no port.

    An ``Origin`` of "null" (sandboxed frames, file://) counts as missing.
    """
    for value in (origin, referer):
        if not value or value == "null":
            continue
        host = _url_hostname(value) if len(value) <= _CACHED_URL_CHARS else _hostname(value)
        if host is not None:
            return host
    return None


def _hostname(url: str) -> str | None:
    """The URL's hostname without a trailing dot, lower-case; None when it has none."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None


# A site's pages send the same few Origin values over and over; parsing one costs more than the
# lookup. Bounded, so an attacker sending endless distinct values only evicts entries.
_CACHED_URL_CHARS = 256
_url_hostname = lru_cache(maxsize=4096)(_hostname)


def hostname_allowed(host: str, allowed: Sequence[str]) -> bool:
    """Exact match, or ``*.example.com`` entries match any subdomain (not the apex)."""
    for entry in allowed:
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and len(host) > len(entry) - 1:
                return True
        elif host == entry:
            return True
    return False


def ip_bucket(ip: str) -> str:
    """Rate-limit bucket for a client address: IPv4 as is, IPv6 by its /64.

    One IPv6 subscriber usually holds a whole /64, so counting single addresses would give an
    attacker 2**64 budgets.
    """
    if ":" not in ip:
        return ip
    try:
        network = ipaddress.ip_network(f"{ip}/64", strict=False)
    except ValueError:
        return ip
    return str(network)
