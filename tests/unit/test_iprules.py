"""IP rules: CIDR parsing and normalisation, IPv4 and IPv6 lookups, overlapping and adjacent
ranges, deny over allow, and expiry without a reload."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime

import pytest

from haechi.platform.iprules.schemas import IpRuleCreate, normalise_cidr
from haechi.platform.iprules.service import edge_rule
from haechi.protocol.iprules import ALLOW, DENY, NONE, EdgeRule, IpRuleSet


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.7", "203.0.113.7/32"),
        (" 203.0.113.0/24 ", "203.0.113.0/24"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:DB8::1", "2001:db8::1/128"),
        ("2001:db8:0:0::/32", "2001:db8::/32"),
        ("[2001:db8::1]", "2001:db8::1/128"),
        ("::/0", "::/0"),
        ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
        ("::ffff:192.0.2.9", "192.0.2.9/32"),
    ],
)
def test_cidrs_are_normalised(text: str, expected: str) -> None:
    assert normalise_cidr(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "example.com", "10.0.0.1/33", "1.2.3", "2001:db8::/129", "10.0.0.0/-1", "1.2.3.4:80"],
)
def test_what_is_not_an_address_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        normalise_cidr(text)


def test_host_bits_are_refused_with_the_network_meant() -> None:
    with pytest.raises(ValueError, match=r"did you mean 10\.0\.0\.0/8"):
        normalise_cidr("10.0.0.1/8")
    with pytest.raises(ValueError):
        IpRuleCreate(action="deny", cidr="2001:db8::1/32")
    assert IpRuleCreate(action="allow", cidr="2001:db8::/32").cidr == "2001:db8::/32"


def _set(*rules: tuple[str, str] | tuple[str, str, float], now: float = 0.0) -> IpRuleSet:
    edge = []
    for rule in rules:
        cidr, action = rule[0], rule[1]
        expires = datetime.fromtimestamp(rule[2], UTC) if len(rule) > 2 else None
        edge.append(edge_rule(cidr, action, expires))
    return IpRuleSet(edge, now=now)


def test_v4_and_v6_lookups() -> None:
    rules = _set(("203.0.113.0/24", "deny"), ("2001:db8::/32", "deny"), ("198.51.100.7", "allow"))
    assert rules.match("203.0.113.0", 1) == DENY
    assert rules.match("203.0.113.255", 1) == DENY
    assert rules.match("203.0.114.0", 1) == NONE
    assert rules.match("203.0.112.255", 1) == NONE
    assert rules.match("2001:db8::", 1) == DENY
    assert rules.match("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 1) == DENY
    assert rules.match("2001:db9::", 1) == NONE
    assert rules.match("198.51.100.7", 1) == ALLOW
    assert rules.match("198.51.100.8", 1) == NONE
    # an IPv4 address never matches an IPv6 range with the same integer value, and v.v.
    assert rules.match("::cb00:7100", 1) == NONE
    # what does not parse matches nothing (client_ip says "unknown" without a peer)
    assert rules.match("unknown", 1) == NONE
    assert rules.match("", 1) == NONE


def test_overlapping_and_adjacent_ranges_merge() -> None:
    rules = _set(
        ("10.0.0.0/8", "deny"),
        ("10.1.0.0/16", "deny"),  # inside the first
        ("11.0.0.0/8", "deny"),  # adjacent: merged with the first
        ("9.255.255.255", "deny"),  # adjacent below
        ("12.0.0.1", "deny"),  # a gap of one address before it
    )
    assert rules._deny4.starts == [int(ipaddress.IPv4Address("9.255.255.255")), 0x0C000001]
    assert rules.match("11.255.255.255", 0) == DENY
    assert rules.match("12.0.0.0", 0) == NONE
    assert rules.match("12.0.0.1", 0) == DENY


def test_deny_wins_over_allow() -> None:
    rules = _set(("192.0.2.0/24", "allow"), ("192.0.2.128/25", "deny"))
    assert rules.match("192.0.2.1", 0) == ALLOW
    assert rules.match("192.0.2.200", 0) == DENY


def test_expired_rules_stop_applying_without_a_reload() -> None:
    rules = _set(("192.0.2.0/24", "deny", 100.0), ("192.0.2.7", "allow", 200.0), now=50.0)
    assert rules.match("192.0.2.7", 99.0) == DENY
    assert rules.match("192.0.2.7", 100.0) == ALLOW  # the deny expired at 100
    assert len(rules) == 1
    assert rules.match("192.0.2.7", 200.0) == NONE
    assert len(rules) == 0
    # rules already expired when the set is built are left out
    assert len(_set(("192.0.2.0/24", "deny", 10.0), now=10.0)) == 0


def test_against_a_linear_scan() -> None:
    """2,000 random v4 and v6 rules, overlapping: the bisect agrees with a plain scan."""
    rng = random.Random(20)
    networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int]] = []
    edge = []
    for _ in range(2_000):
        if rng.random() < 0.5:
            prefix = rng.randint(8, 32)
            net: ipaddress.IPv4Network | ipaddress.IPv6Network = ipaddress.IPv4Network(
                (rng.getrandbits(32), prefix), strict=False
            )
        else:
            prefix = rng.randint(16, 128)
            net = ipaddress.IPv6Network((rng.getrandbits(128), prefix), strict=False)
        action = DENY if rng.random() < 0.5 else ALLOW
        networks.append((net, action))
        edge.append(
            EdgeRule(net.version, int(net.network_address), int(net.broadcast_address), action)
        )
    rules = IpRuleSet(edge)
    probes = [str(n.network_address) for n, _ in networks[:100]]
    probes += [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(100)]
    probes += [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(100)]
    for probe in probes:
        address = ipaddress.ip_address(probe)
        hits = {a for n, a in networks if n.version == address.version and address in n}
        expected = DENY if DENY in hits else ALLOW if ALLOW in hits else NONE
        assert rules.match(probe, 0) == expected, probe
