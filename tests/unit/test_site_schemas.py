"""Hostname normalisation and the site schemas (no database)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from haechi.platform.sites.schemas import (
    SiteCreate,
    SiteCreated,
    SitePublic,
    SiteUpdate,
    normalise_hostname,
)
from haechi.platform.sites.service import (
    generate_secret,
    generate_sitekey,
    hostname_allowed,
    secret_digest,
)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("example.com", "example.com"),
        ("  Example.COM ", "example.com"),
        ("example.com.", "example.com"),
        ("shop.example.co.kr", "shop.example.co.kr"),
        ("localhost", "localhost"),
        ("LOCALHOST", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("[2001:DB8:0:0::1]", "2001:db8::1"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("해치.한국", "xn--v96b13k.xn--3e0b707e"),
        ("straße.de", "xn--strae-oqa.de"),
        ("example。com", "example.com"),
        ("*.example.com", "*.example.com"),
        ("*.Bücher.example", "*.xn--bcher-kva.example"),
        ("*.co.uk", "*.co.uk"),  # accepted: no public-suffix list (documented)
        ("ab--c.example", "ab--c.example"),  # valid DNS, though IDNA 2008 would refuse it
        ("a" * 63 + ".com", "a" * 63 + ".com"),
    ],
)
def test_hostnames_are_normalised(given: str, stored: str) -> None:
    assert normalise_hostname(given) == stored


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "http://x",
        "https://example.com",
        "example.com/path",
        "example.com?q=1",
        "user@example.com",
        "a b",
        "a b.com",
        "x:80",
        "example.com:8080",
        "[::1]:8080",
        "127.0.0.1:80",
        "a" * 300,
        ".".join(["a" * 60] * 5),  # 304 characters in valid labels
        "a" * 64 + ".com",
        "intranet",  # single label: only localhost stands alone
        "1.2.3",  # numeric last label: neither a name nor an IPv4 address
        "01.02.03.04",
        "*",
        "*.com",  # too broad
        "*.localhost",
        "*.1.2.3.4",
        "*example.com",
        "a.*.example.com",
        "**.example.com",
        "-a.example.com",
        "a-.example.com",
        "a..example.com",
        "a_b.example.com",
        "xn--zz.example",  # an A-label that does not decode
        "☃.net",
        "[example.com]",
    ],
)
def test_bad_hostnames_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        normalise_hostname(bad)
    with pytest.raises(ValidationError):
        SiteCreate(name="x", hostnames=[bad])


def test_site_create_defaults_and_dedupes() -> None:
    site = SiteCreate(name="  Shop  ", hostnames=["Example.com", "example.com.", "*.example.com"])
    assert site.name == "Shop"
    assert site.hostnames == ["example.com", "*.example.com"]
    assert site.security_level == "medium"
    assert site.widget_mode == "managed"


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "", "hostnames": ["example.com"]},
        {"name": "   ", "hostnames": ["example.com"]},
        {"name": "x" * 101, "hostnames": ["example.com"]},
        {"name": "ok", "hostnames": []},
        {"name": "ok", "hostnames": [f"h{i}.example.com" for i in range(51)]},
        {"name": "ok", "hostnames": ["example.com"], "security_level": "paranoid"},
        {"name": "ok", "hostnames": ["example.com"], "widget_mode": "popup"},
        {"name": "ok", "hostnames": ["example.com"], "secret_digest": "0" * 64},
    ],
)
def test_site_create_refuses(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SiteCreate.model_validate(fields)


def test_site_create_accepts_limits() -> None:
    site = SiteCreate(name="x" * 100, hostnames=[f"h{i}.example.com" for i in range(50)])
    assert len(site.hostnames) == 50


def test_site_update_keeps_only_what_was_sent() -> None:
    update = SiteUpdate(hostnames=["Example.com"], active=False)
    assert update.model_dump(exclude_unset=True) == {
        "hostnames": ["example.com"],
        "active": False,
    }
    with pytest.raises(ValidationError):
        SiteUpdate(hostnames=["http://example.com"])


def test_public_schemas_never_carry_digests() -> None:
    fields = set(SitePublic.model_fields)
    assert not {name for name in fields if "digest" in name}
    assert "secret" not in fields
    assert "secret" in SiteCreated.model_fields


def test_site_public_from_attributes() -> None:
    now = datetime.now(UTC)

    class Row:
        id = uuid.uuid4()
        org_id = uuid.uuid4()
        name = "Shop"
        sitekey = "hk_x"
        secret_digest = "a" * 64
        previous_secret_digest = None
        previous_secret_expires_at = None
        hostnames = ["example.com"]
        security_level = "high"
        widget_mode = "invisible"
        active = True
        is_demo = False
        created_at = now
        updated_at = now

    dumped = SitePublic.model_validate(Row()).model_dump()
    assert dumped["security_level"] == "high"
    assert "secret_digest" not in dumped


@pytest.mark.parametrize(
    ("hostname", "allowed"),
    [
        ("example.com", True),
        ("EXAMPLE.com", True),
        ("shop.example.com", True),
        ("a.b.example.com", True),
        ("notexample.com", False),
        ("example.com.evil.net", False),
        ("example.org", False),
        ("localhost", True),
        ("[::1]", True),
        ("bücher.example", True),
        ("www.bücher.example", False),
        ("*.example.com", False),
        ("http://example.com", False),
        ("", False),
    ],
)
def test_hostname_allowed(hostname: str, allowed: bool) -> None:
    patterns = [
        normalise_hostname(h)
        for h in ["example.com", "*.example.com", "localhost", "::1", "bücher.example"]
    ]
    assert hostname_allowed(patterns=patterns, hostname=hostname) is allowed


def test_wildcard_alone_does_not_match_apex() -> None:
    assert not hostname_allowed(patterns=["*.example.com"], hostname="example.com")
    assert hostname_allowed(patterns=["*.example.com"], hostname="www.example.com")


def test_keys_and_digests() -> None:
    sitekey, secret = generate_sitekey(), generate_secret()
    assert sitekey.startswith("hk_") and len(sitekey) == 27 and sitekey[3:].isalnum()
    assert secret.startswith("hs_") and len(secret) == 43 and secret[3:].isalnum()
    assert generate_secret() != secret
    digest = secret_digest(b"pepper", secret)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert digest == secret_digest(b"pepper", secret)
    assert digest != secret_digest(b"other pepper", secret)
    with pytest.raises(ValueError, match="pepper"):
        secret_digest(b"", secret)
