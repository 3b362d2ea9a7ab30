"""The protocol end to end on every store × database, with the attacks it must refuse.

Every answer is checked for its exact error code in each siteverify dialect, and no request may
produce a 5xx.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from haechi.core.crypto import b64d, b64e
from haechi.core.db import utcnow
from haechi.platform.sites import service as site_service
from haechi.protocol.service import TOKEN_PURPOSE

from ..stores import OutageStore
from .conftest import ORIGIN, Edge, edge_settings, start_edge

DIALECT_PATHS = {
    "haechi": "/siteverify",
    "turnstile": "/turnstile/v0/siteverify",
    "recaptcha": "/recaptcha/api/siteverify",
    "hcaptcha": "/hcaptcha/siteverify",
}
DUPLICATE_CODE = {
    "haechi": "timeout-or-duplicate",
    "turnstile": "timeout-or-duplicate",
    "recaptcha": "timeout-or-duplicate",
    "hcaptcha": "already-seen-response",
}


def flip(sealed: str) -> str:
    """Change one bit inside a sealed value's ciphertext."""
    head, _, body = sealed.rpartition(".")
    raw = bytearray(b64d(body))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{b64e(bytes(raw))}"


async def test_full_flow_and_single_use(edge: Edge) -> None:
    site = await edge.create_site()
    reply = await edge.challenge(site.sitekey, action="login", cdata="order-7")
    assert reply.status_code == 200
    challenge = reply.json()
    assert challenge["v"] == 1 and challenge["pow"]["algorithm"] == "sha256-lzb"
    outcome = (await edge.solve(challenge)).json()
    assert outcome["outcome"] == "token"
    token = outcome["token"]
    assert len(token) <= 2048
    first = await edge.verify(secret=site.secret, response=token, remoteip="203.0.113.9")
    assert first["success"] is True, first
    assert first["hostname"] == "shop.example.com"
    assert first["action"] == "login" and first["cdata"] == "order-7"
    assert 0.0 <= first["score"] <= 1.0
    assert first["error-codes"] == []
    second = await edge.verify(secret=site.secret, response=token)
    assert second["success"] is False
    assert second["error-codes"] == ["timeout-or-duplicate"]


@pytest.mark.parametrize("dialect", sorted(DIALECT_PATHS))
async def test_replayed_token_per_dialect(quick_edge: Edge, dialect: str) -> None:
    site = await quick_edge.create_site()
    token = await quick_edge.token(site.sitekey)
    path = DIALECT_PATHS[dialect]
    assert (await quick_edge.verify(path, secret=site.secret, response=token))["success"] is True
    again = await quick_edge.verify(path, secret=site.secret, response=token)
    assert again["success"] is False
    assert again["error-codes"] == [DUPLICATE_CODE[dialect]]


async def test_replayed_challenge_is_refused(edge: Edge) -> None:
    site = await edge.create_site()
    challenge = (await edge.challenge(site.sitekey)).json()
    assert (await edge.solve(challenge)).json()["outcome"] == "token"
    again = (await edge.solve(challenge)).json()
    assert again == {"v": 1, "outcome": "fail", "code": "already-solved"}


async def test_tampered_seal_and_bad_pow(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    challenge = (await quick_edge.challenge(site.sitekey)).json()
    tampered = dict(challenge, challenge=flip(challenge["challenge"]))
    assert (await quick_edge.solve(tampered)).json()["code"] == "invalid-challenge"
    garbage = dict(challenge, challenge="v2.k1.not-base64!")
    assert (await quick_edge.solve(garbage)).json()["code"] == "invalid-challenge"
    wrong = await quick_edge.solve(challenge, pow=[0] * challenge["pow"]["count"])
    # 2 puzzles of 6 bits: all-zero nonces are valid with probability 2**-12.
    assert wrong.json()["code"] == "invalid-pow"
    # A wrong PoW does not spend the challenge: the right one still works.
    assert (await quick_edge.solve(challenge)).json()["outcome"] == "token"


@pytest.mark.parametrize("dialect", sorted(DIALECT_PATHS))
async def test_tampered_and_forged_tokens(quick_edge: Edge, dialect: str) -> None:
    site = await quick_edge.create_site()
    token = await quick_edge.token(site.sitekey)
    path = DIALECT_PATHS[dialect]
    for bad in (flip(token), token.replace("v2.k1.", "v2.k9."), "XXXX.DUMMY.TOKEN", "x" * 3000):
        body = await quick_edge.verify(path, secret=site.secret, response=bad)
        assert body["success"] is False
        assert body["error-codes"] == ["invalid-input-response"], (bad[:20], body)
    # The genuine token was not spent by those attempts.
    assert (await quick_edge.verify(path, secret=site.secret, response=token))["success"]


async def test_expired_challenge_and_token(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    challenge = (await quick_edge.challenge(site.sitekey)).json()
    token = await quick_edge.token(site.sitekey)
    later = time.time() + 301
    quick_edge.runtime.protocol.clock = lambda: later
    assert (await quick_edge.solve(challenge)).json()["code"] == "expired"
    for dialect, code in (
        ("haechi", "timeout-or-duplicate"),
        ("turnstile", "timeout-or-duplicate"),
        ("recaptcha", "timeout-or-duplicate"),
        ("hcaptcha", "expired-input-response"),
    ):
        body = await quick_edge.verify(DIALECT_PATHS[dialect], secret=site.secret, response=token)
        assert body["error-codes"] == [code], dialect


async def test_wrong_site_wrong_secret_and_sitekey_mismatch(edge: Edge) -> None:
    a = await edge.create_site()
    b = await edge.create_site()
    token = await edge.token(a.sitekey)
    other = await edge.verify(secret=b.secret, response=token)
    assert other["error-codes"] == ["invalid-input-response"]
    bad_secret = await edge.verify(secret="hs_" + "x" * 40, response=token)
    assert bad_secret["error-codes"] == ["invalid-input-secret"]
    hc = await edge.verify(
        "/hcaptcha/siteverify", secret=a.secret, response=token, sitekey=b.sitekey
    )
    assert hc["error-codes"] == ["sitekey-secret-mismatch"]
    # None of that spent the token.
    assert (await edge.verify(secret=a.secret, response=token, sitekey=a.sitekey))["success"]


async def test_missing_fields(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    assert (await quick_edge.verify(response="x"))["error-codes"] == ["missing-input-secret"]
    assert (await quick_edge.verify(secret=site.secret))["error-codes"] == [
        "missing-input-response"
    ]
    hc = await quick_edge.verify("/hcaptcha/siteverify", secret=site.secret)
    assert hc["error-codes"] == ["missing-input-response"]


async def test_hostname_rules(edge: Edge) -> None:
    site = await edge.create_site(["shop.example.com", "*.example.org"])
    assert (
        await edge.challenge(site.sitekey, origin="https://shop.example.com:8443")
    ).status_code == 200
    assert (await edge.challenge(site.sitekey, origin="https://a.example.org")).status_code == 200
    evil = await edge.challenge(site.sitekey, origin="https://evil.example.net")
    assert evil.status_code == 400 and evil.json()["error"]["code"] == "invalid-hostname"
    missing = await edge.challenge(site.sitekey, origin=None)
    assert missing.json()["error"]["code"] == "missing-hostname"
    referer = await edge.http.post(
        "/v1/challenge",
        json={"sitekey": site.sitekey},
        headers={"referer": "https://shop.example.com/signup"},
    )
    assert referer.status_code == 200
    challenge = (await edge.challenge(site.sitekey)).json()
    # Solving from another page than the one that asked fails; so does no page at all.
    assert (await edge.solve(challenge, origin="https://a.example.org")).json()[
        "code"
    ] == "invalid-hostname"
    assert (await edge.solve(challenge, origin=None)).json()["code"] == "missing-hostname"


async def test_rotated_secret_inside_and_after_grace(edge: Edge) -> None:
    site = await edge.create_site()
    async with edge.runtime.sessions() as session:
        row = await site_service.get_by_sitekey(session, sitekey=site.sitekey)
        assert row is not None
        new_secret = await site_service.rotate_secret(
            session, site=row, pepper=edge.runtime.pepper, grace_seconds=3600, now=utcnow()
        )
        await session.commit()
    await edge.runtime.invalidate_site(site.sitekey)
    inside = await edge.verify(secret=site.secret, response=await edge.token(site.sitekey))
    assert inside["success"] is True
    assert (await edge.verify(secret=new_secret, response=await edge.token(site.sitekey)))[
        "success"
    ]
    async with edge.runtime.sessions() as session:
        row = await site_service.get_by_sitekey(session, sitekey=site.sitekey)
        assert row is not None
        row.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
        await session.commit()
    await edge.runtime.invalidate_site(site.sitekey)
    after = await edge.verify(secret=site.secret, response=await edge.token(site.sitekey))
    assert after["error-codes"] == ["invalid-input-secret"]


async def test_idempotency_key_returns_first_answer(edge: Edge) -> None:
    site = await edge.create_site()
    token = await edge.token(site.sitekey, action="pay")
    first = await edge.verify(secret=site.secret, response=token, idempotency_key="req-1")
    assert first["success"]
    repeat = await edge.verify(secret=site.secret, response=token, idempotency_key="req-1")
    assert repeat == first
    other = await edge.verify(secret=site.secret, response=token, idempotency_key="req-2")
    assert other["error-codes"] == ["timeout-or-duplicate"]
    plain = await edge.verify(secret=site.secret, response=token)
    assert plain["error-codes"] == ["timeout-or-duplicate"]


def _spent_key(edge: Edge, token: str) -> str:
    opened = orjson.loads(edge.runtime.protocol.keyring.open(TOKEN_PURPOSE, token))
    return f"tk:{opened['id']}"


async def test_a_verified_token_keeps_only_the_idempotency_key(edge: Edge) -> None:
    """The spend stores a marker or the caller's key, never the verdict: a retry re-opens the
    same token, so the answer needs no copy in the store."""
    site = await edge.create_site()
    plain, keyed = await edge.token(site.sitekey), await edge.token(site.sitekey)
    assert (await edge.verify(secret=site.secret, response=plain))["success"]
    assert (await edge.verify(secret=site.secret, response=keyed, idempotency_key="req-9"))[
        "success"
    ]
    assert await edge.runtime.store.get(_spent_key(edge, plain)) == b"-"
    assert await edge.runtime.store.get(_spent_key(edge, keyed)) == b"=req-9"


@pytest.mark.parametrize(
    ("recorded_key", "retry_key", "repeats"),
    [("req-1", "req-1", True), ("req-1", "req-2", False), (None, "req-1", False)],
)
async def test_a_record_an_earlier_release_wrote_still_answers_its_retry(
    edge: Edge, recorded_key: str | None, retry_key: str, repeats: bool
) -> None:
    """During a rolling upgrade a token spent by the old release holds the JSON record; a retry
    with the same key still gets the first answer, anyone else a duplicate."""
    site = await edge.create_site()
    token = await edge.token(site.sitekey, action="pay")
    first = await edge.verify(secret=site.secret, response=token, idempotency_key=recorded_key)
    assert first["success"]
    legacy = {"k": recorded_key, "v": {"success": True, "failure": None, "risk": 3}}
    await edge.runtime.store.set(_spent_key(edge, token), orjson.dumps(legacy), 600)
    again = await edge.verify(secret=site.secret, response=token, idempotency_key=retry_key)
    if repeats:
        assert again == first
    else:
        assert again["error-codes"] == ["timeout-or-duplicate"]


async def test_json_body_at_siteverify(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    token = await quick_edge.token(site.sitekey)
    reply = await quick_edge.http.post(
        "/siteverify", json={"secret": site.secret, "response": token}
    )
    assert reply.status_code == 200 and reply.json()["success"] is True


async def test_step_up_then_wrong_and_right_answers(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    # No telemetry scores 30 by default; "high" adds 15: the glyph band.
    await quick_edge.set_security_level(site.sitekey, "high")
    challenge = (await quick_edge.challenge(site.sitekey)).json()
    task = challenge["task"]
    assert task["type"] == "glyph" and task["kind"] == "select" and len(task["cells"]) == 9
    assert "answer" not in str(challenge).lower()
    target = task["prompt"].split("(")[1][0]
    right = [c["id"] for c in task["cells"] if c["label"] == target]
    wrong = await quick_edge.solve(challenge, answer={"cells": right[:-1]})
    assert wrong.json()["code"] == "wrong-answer"
    # One attempt per challenge: the right answer after a wrong one is a replay.
    again = await quick_edge.solve(challenge, answer={"cells": right})
    assert again.json()["code"] == "already-solved"
    fresh = (await quick_edge.challenge(site.sitekey)).json()
    target = fresh["task"]["prompt"].split("(")[1][0]
    right = [c["id"] for c in fresh["task"]["cells"] if c["label"] == target]
    ok = (await quick_edge.solve(fresh, answer={"cells": right})).json()
    assert ok["outcome"] == "token"
    assert (await quick_edge.verify(secret=site.secret, response=ok["token"]))["success"]


async def test_step_up_when_solve_telemetry_looks_worse(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    await quick_edge.set_security_level(site.sitekey, "high")
    challenge = (await quick_edge.challenge(site.sitekey, telemetry=_human_telemetry())).json()
    assert challenge["task"] is None
    # Solved without telemetry: 30 + 15 lands in the glyph band, so a visual task is required.
    stepped = (await quick_edge.solve(challenge)).json()
    assert stepped["outcome"] == "step_up"
    follow = stepped["challenge"]
    assert follow["task"]["type"] == "glyph" and follow["pow"]["count"] == 0
    target = follow["task"]["prompt"].split("(")[1][0]
    right = [c["id"] for c in follow["task"]["cells"] if c["label"] == target]
    done = (await quick_edge.solve(follow, answer={"cells": right})).json()
    assert done["outcome"] == "token"
    assert (await quick_edge.verify(secret=site.secret, response=done["token"]))["success"]


async def test_bot_signals_at_solve_are_denied(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    human = _human_telemetry()
    challenge = (await quick_edge.challenge(site.sitekey, telemetry=human)).json()
    assert challenge["task"] is None
    bot = {
        "v": 1,
        "viewport": [1280, 720],
        "pointer": "mouse",
        "events": [],
        "hints": {"webdriver": True},
    }
    p = challenge["pow"]
    from haechi.protocol import pow as pow_

    nonces = pow_.solve(pow_.PowParams(p["prefix"].split(":")[1], p["bits"], p["count"]))
    reply = await quick_edge.http.post(
        "/v1/solve",
        json={"challenge": challenge["challenge"], "solution": {"pow": nonces}, "telemetry": bot},
        headers={"origin": ORIGIN},
    )
    # A webdriver flag at solve time is a clear bot: denied.
    assert reply.json() == {"v": 1, "outcome": "fail", "code": "denied"}


def _human_telemetry() -> dict[str, Any]:
    """A replayed 5-second SapiMouse window of a held-out person (tests/fixtures)."""
    import orjson

    path = Path(__file__).parent.parent / "fixtures" / "human_windows.jsonl"
    telemetry: dict[str, Any] = orjson.loads(path.read_bytes().splitlines()[0])
    return telemetry


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"{", "headers": {"content-type": "application/json"}}, 400, "bad-request"),
        ({"content": b"[]", "headers": {"content-type": "application/json"}}, 400, "bad-request"),
        (
            {
                "content": b"sitekey=x",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            415,
            "unsupported-media-type",
        ),
        (
            {"content": b"x" * 200_000, "headers": {"content-type": "application/json"}},
            413,
            "payload-too-large",
        ),
        ({"json": {"sitekey": "hk_doesnotexist"}}, 400, "invalid-sitekey"),
        ({"json": {}}, 400, "missing-sitekey"),
    ],
)
async def test_bad_requests_get_exact_errors(
    quick_edge: Edge, kwargs: dict[str, Any], status: int, code: str
) -> None:
    headers = {"origin": ORIGIN, **kwargs.pop("headers", {})}
    reply = await quick_edge.http.post("/v1/challenge", headers=headers, **kwargs)
    assert reply.status_code == status
    assert reply.json()["error"]["code"] == code
    assert reply.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "path", ["/v1/challenge", "/v1/solve", "/siteverify", "/hcaptcha/siteverify"]
)
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff\xfe",
        b"null",
        b"1",
        b'{"v":1,"challenge":{"a":1}}',
        b'{"secret":[1],"response":{}}',
        b"a=%ZZ&&==",
    ],
)
@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/x-www-form-urlencoded", "text/plain", "image/png"],
)
async def test_garbage_never_500s(
    quick_edge: Edge, path: str, content: bytes, content_type: str
) -> None:
    reply = await quick_edge.http.post(
        path, content=content, headers={"content-type": content_type, "origin": ORIGIN}
    )
    assert reply.status_code < 500, reply.text
    body = reply.json()
    if path.startswith("/v1/"):
        assert "error" in body or body.get("outcome") == "fail"
    else:
        assert body["success"] is False and body["error-codes"]


async def test_rate_limit_per_ip(tmp_path: Any) -> None:
    from haechi.core.settings import RateLimitSettings

    from .conftest import embedded_edge

    async for e in embedded_edge(
        tmp_path, rate_limit=RateLimitSettings(per_ip=5, window_seconds=60)
    ):
        site = await e.create_site()
        codes = [(await e.challenge(site.sitekey)).status_code for _ in range(7)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
        limited = await e.challenge(site.sitekey)
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "rate-limited"


async def test_rate_limit_per_sitekey(tmp_path: Any) -> None:
    from haechi.core.settings import RateLimitSettings

    from .conftest import embedded_edge

    async for e in embedded_edge(
        tmp_path, rate_limit=RateLimitSettings(per_ip=100, per_sitekey=3, window_seconds=60)
    ):
        site = await e.create_site()
        other = await e.create_site()
        codes = [(await e.challenge(site.sitekey)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert (await e.challenge(other.sitekey)).status_code == 200


async def test_test_keys(quick_edge: Edge) -> None:
    # The documented test sitekeys (docs/api.md), written out as a site would.
    TEST_PASS_SITEKEY, TEST_FAIL_SITEKEY = (
        "hk_test_pass_00000000000000",
        "hk_test_fail_00000000000000",
    )

    token = await quick_edge.token(TEST_PASS_SITEKEY, origin="https://anywhere.test")
    ok = await quick_edge.verify(
        secret="hs_test_pass_0000000000000000000000000000000", response=token
    )
    assert ok["success"] is True
    always = await quick_edge.verify(
        secret="hs_test_pass_0000000000000000000000000000000", response="anything"
    )
    assert always["success"] is True
    fail = await quick_edge.verify(
        secret="hs_test_fail_0000000000000000000000000000000", response=token
    )
    assert fail["success"] is False
    challenge = (
        await quick_edge.challenge(TEST_FAIL_SITEKEY, origin="https://anywhere.test")
    ).json()
    assert (await quick_edge.solve(challenge, origin="https://anywhere.test")).json()[
        "code"
    ] == "denied"


async def test_store_failure_fails_closed(tmp_path: Path) -> None:
    store = OutageStore()
    url = f"sqlite+aiosqlite:///{tmp_path / 'outage.db'}"
    async for edge in start_edge(edge_settings(tmp_path, url), store):
        site = await edge.create_site()
        token = await edge.token(site.sitekey)
        challenge = (await edge.challenge(site.sitekey)).json()
        store.down = {"spend"}  # the edge spends with its rate limits: hit_many_then_spend
        body = await edge.verify(secret=site.secret, response=token)
        assert body["success"] is False and body["error-codes"] == ["internal-error"]
        assert (await edge.solve(challenge)).status_code == 503
        store.down = {"spend", "hit"}
        assert (await edge.challenge(site.sitekey)).status_code == 503
        store.down = set()
        # Nothing was spent while the store was down.
        assert (await edge.verify(secret=site.secret, response=token))["success"]


async def test_health_ready_and_metrics(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    token = await quick_edge.token(site.sitekey)
    await quick_edge.verify(secret=site.secret, response=token)
    assert (await quick_edge.http.get("/healthz")).json()["status"] == "ok"
    ready = await quick_edge.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"store": True, "database": True}
    # /metrics lists every site's traffic: not for a public client without the token.
    assert (await quick_edge.http.get("/metrics")).status_code == 404
    quick_edge.runtime.settings.metrics.token = "scrape-me"
    wrong = await quick_edge.http.get("/metrics", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 404
    text = (
        await quick_edge.http.get("/metrics", headers={"authorization": "Bearer scrape-me"})
    ).text
    assert f'haechi_challenges_issued_total{{site="{site.sitekey}",type="none"}} 1.0' in text
    assert (
        f'haechi_tokens_verified_total{{dialect="haechi",result="success",site="{site.sitekey}"}} 1.0'
        in text
    )
    assert 'haechi_http_request_duration_seconds_bucket{le="0.001",route="/v1/challenge"}' in text
    assert 'route="/v1/solve",status="200"' in text


async def test_usage_counters_reach_the_store(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    token = await quick_edge.token(site.sitekey)
    await quick_edge.verify(secret=site.secret, response=token)
    await quick_edge.runtime.counters.flush(quick_edge.runtime.store)
    hour = time.strftime("%Y%m%d%H", time.gmtime())
    store = quick_edge.runtime.store
    for event in ("challenges", "solves", "verifies"):
        assert await store.get_counter(f"usage:{hour}:{site.sitekey}:{event}") == 1
    # the richer counters (haechi.protocol.usage): one of each family for one visit
    prefix = f"usage:{hour}:{site.sitekey}:"
    counted = {k[len(prefix) :]: n for k, n in (await store.peek_counters(prefix)).items()}
    for family in ("c.", "p.", "r.", "t.", "h.", "a."):
        assert sum(n for e, n in counted.items() if e.startswith(family)) == 1, (family, counted)
    assert counted["s.token"] == counted["v.native"] == counted["k.invisible"] == 1
    assert not any(e.startswith(("f.", "x.")) for e in counted)


async def test_no_secret_in_logs_or_database(
    quick_edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from sqlalchemy import text

    caplog.set_level(logging.DEBUG)
    site = await quick_edge.create_site()
    token = await quick_edge.token(site.sitekey)
    await quick_edge.verify(secret=site.secret, response=token)
    await quick_edge.verify(secret=site.secret, response="bad")
    assert site.secret not in caplog.text
    async with quick_edge.runtime.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM sites"))).all()
    assert rows and all(site.secret not in str(row) for row in rows)
