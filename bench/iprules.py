"""IP rule lookups at the edge: the time one request spends on its site's IP rules with 0, 100
and 10,000 rules per site (half IPv4, half IPv6, overlapping, half deny and half allow), next to
a plain linear scan of the same rules for scale. Also the one-off cost of building the ranges.

    .venv/bin/python bench/iprules.py [--lookups 200000] [--json]

"0 rules" is what every site without rules pays: the edge checks ``site.ip_rules is None``.
With rules, a lookup is one address-to-integer conversion and at most two binary searches
(``haechi.protocol.iprules``), so 10,000 rules should cost about what 100 do.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import statistics
import time
from typing import Any

from haechi.protocol.iprules import ALLOW, DENY, NONE, EdgeRule, IpRuleSet
from haechi.protocol.sites import SiteInfo

RULE_COUNTS = (0, 100, 10_000)


def _rules(count: int, rng: random.Random) -> tuple[list[EdgeRule], list[Any]]:
    rules: list[EdgeRule] = []
    networks: list[Any] = []
    for i in range(count):
        net: ipaddress.IPv4Network | ipaddress.IPv6Network
        if i % 2:
            net = ipaddress.IPv4Network((rng.getrandbits(32), rng.randint(16, 32)), strict=False)
        else:
            net = ipaddress.IPv6Network((rng.getrandbits(128), rng.randint(32, 128)), strict=False)
        action = DENY if rng.random() < 0.5 else ALLOW
        networks.append((net, action))
        rules.append(
            EdgeRule(net.version, int(net.network_address), int(net.broadcast_address), action)
        )
    return rules, networks


def _addresses(count: int, rng: random.Random, networks: list[Any]) -> list[str]:
    """Client addresses: a third inside rules (hits), the rest random v4 and v6 (misses)."""
    out = []
    for i in range(count):
        if networks and i % 3 == 0:
            net = networks[rng.randrange(len(networks))][0]
            out.append(str(net.network_address + rng.randrange(net.num_addresses)))
        elif i % 2:
            out.append(str(ipaddress.IPv4Address(rng.getrandbits(32))))
        else:
            out.append(str(ipaddress.IPv6Address(rng.getrandbits(128))))
    return out


def _site(rules: IpRuleSet | None) -> SiteInfo:
    return SiteInfo(
        id="bench",
        sitekey="bench",
        hostnames=("bench.example",),
        security_level="medium",
        widget_mode="managed",
        active=True,
        secret_digest="",
        ip_rules=rules,
    )


def _edge_check(site: SiteInfo, ip: str, now: float) -> int:
    """What ``ProtocolService.authorize`` does for the rules."""
    rules = site.ip_rules
    if rules is not None and ip is not None:
        return rules.match(ip, now)
    return NONE


def _per_lookup_ns(site: SiteInfo, addresses: list[str], rounds: int) -> float:
    """Median over ``rounds`` of the mean time per lookup (ns)."""
    now = time.time()
    results = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for ip in addresses:
            _edge_check(site, ip, now)
        results.append((time.perf_counter_ns() - start) / len(addresses))
    return statistics.median(results)


def _linear_ns(networks: list[Any], addresses: list[str]) -> float:
    start = time.perf_counter_ns()
    for text in addresses:
        ip = ipaddress.ip_address(text)
        hits = {a for n, a in networks if n.version == ip.version and ip in n}
        _ = DENY if DENY in hits else ALLOW if ALLOW in hits else NONE
    return (time.perf_counter_ns() - start) / len(addresses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(2026)
    report: dict[str, Any] = {
        "lookups": args.lookups,
        "rounds": args.rounds,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "sets": [],
    }
    for count in RULE_COUNTS:
        rules, networks = _rules(count, rng)
        start = time.perf_counter()
        built = IpRuleSet(rules, now=time.time()) if rules else None
        build_ms = (time.perf_counter() - start) * 1000
        addresses = _addresses(args.lookups, rng, networks)
        # correctness on a sample: the bisect agrees with the linear scan
        sample = addresses[:200]
        site = _site(built)
        for text in sample:
            ip = ipaddress.ip_address(text)
            hits = {a for n, a in networks if n.version == ip.version and ip in n}
            expected = DENY if DENY in hits else ALLOW if ALLOW in hits else NONE
            assert _edge_check(site, text, time.time()) == expected, text
        entry = {
            "rules": count,
            "build_ms": round(build_ms, 2),
            "lookup_ns": round(_per_lookup_ns(site, addresses, args.rounds)),
            "linear_scan_ns": round(_linear_ns(networks, addresses[:500])) if count else None,
        }
        report["sets"].append(entry)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"lookups {args.lookups} x {args.rounds} rounds; load average "
        f"{report['load_average'][0]:.2f} on {report['cpus']} CPUs"
    )
    print(f"{'rules':>7} {'build ms':>9} {'lookup ns':>10} {'linear scan ns':>15}")
    for e in report["sets"]:
        linear = "-" if e["linear_scan_ns"] is None else f"{e['linear_scan_ns']:,}"
        print(f"{e['rules']:>7} {e['build_ms']:>9} {e['lookup_ns']:>10,} {linear:>15}")


if __name__ == "__main__":
    main()
