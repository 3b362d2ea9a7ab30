"""What the compat scripts need from the protocol: a reCAPTCHA v2 widget's tokens verify without
v3's fields (as Google's v2 tokens do), and the vendors' passing test sitekeys hand out their
dummy responses. The libraries themselves are driven in tests/compat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from haechi.protocol.dialects import TEST_KEYS
from haechi.protocol.service import CHALLENGE_PURPOSE, TOKEN_PURPOSE

from .conftest import Edge, embedded_edge

RECAPTCHA = "/recaptcha/api/siteverify"


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    async for e in embedded_edge(tmp_path):
        yield e


async def test_recaptcha_v2_tokens_verify_without_score_or_action(edge: Edge) -> None:
    site = await edge.create_site()
    v2 = await edge.token(site.sitekey, api="recaptcha-v2")
    verdict = await edge.verify(RECAPTCHA, secret=site.secret, response=v2)
    assert verdict["success"] is True, verdict
    assert set(verdict) == {"success", "challenge_ts", "hostname"}
    replay = await edge.verify(RECAPTCHA, secret=site.secret, response=v2)
    assert replay == {"success": False, "error-codes": ["timeout-or-duplicate"]}

    # The same kind of token keeps its score in Haechi's own dialect (and hCaptcha's).
    other = await edge.token(site.sitekey, api="recaptcha-v2", action="login")
    native = await edge.verify(secret=site.secret, response=other)
    assert native["success"] is True and isinstance(native["score"], float)
    assert native["action"] == "login"


async def test_v3_and_native_tokens_keep_score_and_action(edge: Edge) -> None:
    site = await edge.create_site()
    token = await edge.token(site.sitekey, action="submit")
    verdict = await edge.verify(RECAPTCHA, secret=site.secret, response=token)
    assert verdict["success"] is True
    assert verdict["action"] == "submit" and 0.0 <= verdict["score"] <= 1.0


async def test_the_api_is_sealed_into_the_challenge_and_the_token(edge: Edge) -> None:
    site = await edge.create_site()
    keyring = edge.runtime.protocol.keyring
    challenge = (await edge.challenge(site.sitekey, api="recaptcha-v2")).json()
    assert orjson.loads(keyring.open(CHALLENGE_PURPOSE, challenge["challenge"]))["ap"] == (
        "recaptcha-v2"
    )
    outcome = (await edge.solve(challenge)).json()
    assert orjson.loads(keyring.open(TOKEN_PURPOSE, outcome["token"]))["ap"] == "recaptcha-v2"
    # Without one, neither carries the field (older releases' values look the same).
    plain = (await edge.challenge(site.sitekey)).json()
    assert "ap" not in orjson.loads(keyring.open(CHALLENGE_PURPOSE, plain["challenge"]))


async def test_an_unknown_api_is_a_bad_request(edge: Edge) -> None:
    site = await edge.create_site()
    reply = await edge.challenge(site.sitekey, api="recaptcha-v9")
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "bad-request"


@pytest.mark.parametrize(
    ("sitekey", "dummy"),
    [
        ("1x00000000000000000000AA", "XXXX.DUMMY.TOKEN.XXXX"),
        ("1x00000000000000000000BB", "XXXX.DUMMY.TOKEN.XXXX"),
        ("3x00000000000000000000FF", "XXXX.DUMMY.TOKEN.XXXX"),
        ("10000000-ffff-ffff-ffff-000000000001", "10000000-aaaa-bbbb-cccc-000000000001"),
        ("20000000-ffff-ffff-ffff-000000000002", "20000000-aaaa-bbbb-cccc-000000000002"),
        ("30000000-ffff-ffff-ffff-000000000003", "30000000-aaaa-bbbb-cccc-000000000003"),
    ],
)
async def test_vendor_test_sitekeys_hand_out_their_dummy_responses(
    edge: Edge, sitekey: str, dummy: str
) -> None:
    assert await edge.token(sitekey, origin="https://anywhere.example") == dummy
    vendor = TEST_KEYS[sitekey].vendor
    secret = next(k for k, v in TEST_KEYS.items() if v.vendor is vendor and v.kind == "secret")
    path = {"turnstile": "/turnstile/v0/siteverify", "hcaptcha": "/hcaptcha/siteverify"}[vendor]
    assert (await edge.verify(path, secret=secret, response=dummy))["success"] is True


async def test_google_and_haechi_test_sitekeys_hand_out_sealed_tokens(edge: Edge) -> None:
    for sitekey in ("6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI", "hk_test_pass_00000000000000"):
        assert (await edge.token(sitekey)).startswith("v2.")
    failing = await edge.challenge("2x00000000000000000000AB")
    assert (await edge.solve(failing.json())).json() == {
        "v": 1,
        "outcome": "fail",
        "code": "denied",
    }
