from __future__ import annotations

import ipaddress

import pytest

from haechi.core.net import client_ip, hostname_allowed, hostname_from_headers

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "expected"),
    [
        ("203.0.113.5", "1.2.3.4", (), "203.0.113.5"),  # no trusted proxies: XFF ignored
        ("203.0.113.5", "1.2.3.4", TRUSTED, "203.0.113.5"),  # peer not trusted: XFF ignored
        ("10.0.0.2", "1.2.3.4", TRUSTED, "1.2.3.4"),
        ("10.0.0.2", "6.6.6.6, 1.2.3.4", TRUSTED, "1.2.3.4"),  # forged left part ignored
        ("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.9", TRUSTED, "1.2.3.4"),
        ("10.0.0.2", "garbage, 10.0.0.9", TRUSTED, "10.0.0.9"),
        ("10.0.0.2", None, TRUSTED, "10.0.0.2"),
        ("::1", "2001:db8::1", TRUSTED, "2001:db8::1"),
        ("10.0.0.2", "[2001:db8::2]:443", TRUSTED, "2001:db8::2"),
        ("10.0.0.2", "1.2.3.4:5555", TRUSTED, "1.2.3.4"),
    ],
)
def test_client_ip(peer: str, xff: str | None, trusted: tuple, expected: str) -> None:  # type: ignore[type-arg]
    assert client_ip(peer, xff, trusted) == expected


@pytest.mark.parametrize(
    ("origin", "referer", "expected"),
    [
        ("https://Example.com:8443", None, "example.com"),
        (None, "http://shop.example.com/login?x=1", "shop.example.com"),
        ("null", "https://a.example/", "a.example"),
        ("", "", None),
        (None, None, None),
        ("http://[::1]:8080", None, "::1"),
        ("not a url", None, None),
    ],
)
def test_hostname_from_headers(
    origin: str | None, referer: str | None, expected: str | None
) -> None:
    assert hostname_from_headers(origin, referer) == expected


def test_hostname_from_headers_cached_and_long_values_agree() -> None:
    # Short values go through a bounded cache, long ones are parsed each time: same answers.
    long_path = "https://Shop.Example.com./" + "p" * 400
    assert hostname_from_headers(long_path, None) == "shop.example.com"
    for _ in range(2):
        assert hostname_from_headers("https://Shop.Example.com./x", None) == "shop.example.com"
        assert hostname_from_headers("http://[::1", "https://b.example/") == "b.example"


def test_hostname_rules() -> None:
    assert hostname_allowed("example.com", ["example.com"])
    assert not hostname_allowed("evil-example.com", ["example.com"])
    assert not hostname_allowed("example.com.evil.net", ["example.com"])
    assert hostname_allowed("a.b.example.com", ["*.example.com"])
    assert not hostname_allowed("example.com", ["*.example.com"])
    assert not hostname_allowed("badexample.com", ["*.example.com"])
