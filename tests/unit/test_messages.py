from __future__ import annotations

import pytest

from haechi.core.errors import Invalid
from haechi.protocol.messages import parse_challenge, parse_solve


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([], "bad-request"),
        ("x", "bad-request"),
        ({}, "missing-sitekey"),
        ({"sitekey": 5}, "invalid-sitekey"),
        ({"sitekey": "a b"}, "invalid-sitekey"),
        ({"sitekey": "k" * 65}, "invalid-sitekey"),
        ({"sitekey": "k", "v": 2}, "unsupported-version"),
        ({"sitekey": "k", "v": True}, "unsupported-version"),
        ({"sitekey": "k", "action": "has space"}, "bad-request"),
        ({"sitekey": "k", "cdata": "x" * 256}, "bad-request"),
        ({"sitekey": "k", "telemetry": []}, "bad-request"),
    ],
)
def test_challenge_errors(body: object, code: str) -> None:
    with pytest.raises(Invalid) as error:
        parse_challenge(body)
    assert error.value.code == code


def test_challenge_ok() -> None:
    parsed = parse_challenge({"v": 1, "sitekey": "hk_x", "action": "login", "cdata": "c"})
    assert (parsed.sitekey, parsed.action, parsed.cdata, parsed.telemetry) == (
        "hk_x",
        "login",
        "c",
        None,
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "missing-challenge"),
        ({"challenge": 1}, "bad-request"),
        ({"challenge": "x" * 9000}, "bad-request"),
        ({"challenge": "x", "solution": [1]}, "bad-request"),
    ],
)
def test_solve_errors(body: object, code: str) -> None:
    with pytest.raises(Invalid) as error:
        parse_solve(body)
    assert error.value.code == code
