"""Vendor dialects of /siteverify: exact error codes, body shapes, request parsing, test keys.

The expectations below are written out by hand from the vendors' documentation (see
docs/api-dialects.md), not derived from the module's tables, so a wrong table entry fails here.
"""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from haechi.protocol import dialects
from haechi.protocol.dialects import Dialect, VerifyRequest, parse_request, render
from haechi.protocol.verdict import Failure, Verdict

H, R, C, T = Dialect.HAECHI, Dialect.RECAPTCHA, Dialect.HCAPTCHA, Dialect.TURNSTILE
F = Failure

# (failure) -> {dialect: (http status, error code)}
EXPECTED: dict[Failure, dict[Dialect, tuple[int, str]]] = {
    F.MISSING_SECRET: {
        H: (400, "missing-input-secret"),
        R: (200, "missing-input-secret"),
        C: (200, "missing-input-secret"),
        T: (400, "missing-input-secret"),
    },
    F.INVALID_SECRET: {
        H: (400, "invalid-input-secret"),
        R: (200, "invalid-input-secret"),
        C: (200, "invalid-input-secret"),
        T: (400, "invalid-input-secret"),
    },
    F.MISSING_RESPONSE: {
        H: (200, "missing-input-response"),
        R: (200, "missing-input-response"),
        C: (200, "missing-input-response"),
        T: (200, "missing-input-response"),
    },
    F.MALFORMED_RESPONSE: {
        H: (200, "invalid-input-response"),
        R: (200, "invalid-input-response"),
        C: (200, "invalid-input-response"),
        T: (200, "invalid-input-response"),
    },
    F.BAD_SIGNATURE: {
        H: (200, "invalid-input-response"),
        R: (200, "invalid-input-response"),
        C: (200, "invalid-input-response"),
        T: (200, "invalid-input-response"),
    },
    F.EXPIRED: {
        H: (200, "timeout-or-duplicate"),
        R: (200, "timeout-or-duplicate"),
        C: (200, "expired-input-response"),
        T: (200, "timeout-or-duplicate"),
    },
    F.SITE_MISMATCH: {
        H: (200, "invalid-input-response"),
        R: (200, "invalid-input-response"),
        C: (200, "invalid-input-response"),
        T: (200, "invalid-input-response"),
    },
    F.SITEKEY_MISMATCH: {
        H: (200, "sitekey-secret-mismatch"),
        R: (200, "invalid-input-response"),
        C: (200, "sitekey-secret-mismatch"),
        T: (200, "invalid-input-response"),
    },
    F.DUPLICATE: {
        H: (200, "timeout-or-duplicate"),
        R: (200, "timeout-or-duplicate"),
        C: (200, "already-seen-response"),
        T: (200, "timeout-or-duplicate"),
    },
    F.INVALID_REMOTEIP: {
        H: (200, "invalid-remoteip"),
        R: (200, "bad-request"),
        C: (200, "invalid-remoteip"),
        T: (200, "bad-request"),
    },
    F.BAD_REQUEST: {
        H: (400, "bad-request"),
        R: (200, "bad-request"),
        C: (200, "bad-request"),
        T: (400, "bad-request"),
    },
    F.TEST_FAIL: {
        H: (200, "invalid-input-response"),
        R: (200, "invalid-input-response"),
        C: (200, "invalid-input-response"),
        T: (200, "invalid-input-response"),
    },
    F.INTERNAL: {
        H: (200, "internal-error"),
        R: (200, "bad-request"),
        C: (200, "bad-request"),
        T: (200, "internal-error"),
    },
    F.RATE_LIMITED: {
        H: (200, "rate-limited"),
        R: (200, "bad-request"),
        C: (200, "bad-request"),
        T: (200, "internal-error"),
    },
}

# Every code each vendor documents (Haechi: Turnstile's plus two borrowed from hCaptcha).
DOCUMENTED = {
    R: {
        "missing-input-secret",
        "invalid-input-secret",
        "missing-input-response",
        "invalid-input-response",
        "bad-request",
        "timeout-or-duplicate",
    },
    C: {
        "missing-input-secret",
        "invalid-input-secret",
        "missing-input-response",
        "invalid-input-response",
        "expired-input-response",
        "already-seen-response",
        "bad-request",
        "missing-remoteip",
        "invalid-remoteip",
        "not-using-dummy-passcode",
        "sitekey-secret-mismatch",
    },
    T: {
        "missing-input-secret",
        "invalid-input-secret",
        "missing-input-response",
        "invalid-input-response",
        "bad-request",
        "timeout-or-duplicate",
        "internal-error",
    },
}
DOCUMENTED[H] = DOCUMENTED[T] | {"sitekey-secret-mismatch", "invalid-remoteip", "rate-limited"}

CASES = [
    (dialect, failure, status, code)
    for failure, by_dialect in EXPECTED.items()
    for dialect, (status, code) in by_dialect.items()
]


def test_every_pair_is_covered() -> None:
    assert set(EXPECTED) == set(Failure)
    assert all(set(row) == set(Dialect) for row in EXPECTED.values())
    assert {(d, f) for d, f, _, _ in CASES} == {(d, f) for d in Dialect for f in Failure}


@pytest.mark.parametrize(("dialect", "failure", "status", "code"), CASES)
def test_failure_rendering(dialect: Dialect, failure: Failure, status: int, code: str) -> None:
    verdict = Verdict.fail(
        failure,
        challenge_ts=1_700_000_000.0,
        hostname="secret.example",
        action="login",
        cdata="private",
        risk=5,
        sitekey="sk",
        token_id="tid",
    )
    got_status, body = render(dialect, verdict)
    assert got_status == status
    assert code in DOCUMENTED[dialect]
    expected: dict[str, object] = {"success": False, "error-codes": [code]}
    if dialect is T:
        expected["messages"] = []
    # Nothing the token carried leaks into a failure.
    assert body == expected
    orjson.dumps(body)  # serialisable as is


def test_failure_without_reason_fails_closed() -> None:
    for dialect in Dialect:
        _, body = render(dialect, Verdict(success=False))
        assert body["success"] is False
        assert body["error-codes"] == [EXPECTED[F.INTERNAL][dialect][1]]


# -------------------------------------------------------------------------------- success shape

TS = 1_700_000_000.123456  # 2023-11-14T22:13:20.123456Z


def success(**kwargs: object) -> Verdict:
    base: dict[str, object] = {
        "success": True,
        "challenge_ts": TS,
        "hostname": "shop.example",
        "action": "login",
        "cdata": "session-1",
        "risk": 13,
        "sitekey": "hk_live",
        "token_id": "tok-1",
    }
    base.update(kwargs)
    return Verdict(**base)  # type: ignore[arg-type]


def test_success_haechi() -> None:
    assert render(H, success()) == (
        200,
        {
            "success": True,
            "challenge_ts": "2023-11-14T22:13:20.123Z",
            "hostname": "shop.example",
            "error-codes": [],
            "action": "login",
            "cdata": "session-1",
            "score": 0.87,
            "sitekey": "hk_live",
            "metadata": {"token_id": "tok-1"},
        },
    )


def test_success_recaptcha() -> None:
    assert render(R, success()) == (
        200,
        {
            "success": True,
            "challenge_ts": "2023-11-14T22:13:20Z",
            "hostname": "shop.example",
            "score": 0.8,
            "action": "login",
        },
    )
    # v2-style token: no score, no action.
    _, body = render(R, success(risk=None, action=None))
    assert body == {
        "success": True,
        "challenge_ts": "2023-11-14T22:13:20Z",
        "hostname": "shop.example",
    }


def test_success_hcaptcha() -> None:
    assert render(C, success(extra={"score_reason": ["safe", 3]})) == (
        200,
        {
            "success": True,
            "challenge_ts": "2023-11-14T22:13:20.123456Z",
            "hostname": "shop.example",
            "credit": False,
            "score": 0.13,
            "score_reason": ["safe"],
        },
    )
    _, body = render(C, success(risk=None))
    assert "score" not in body and "score_reason" not in body


def test_success_turnstile() -> None:
    assert render(T, success(extra={"interactive": True, "ephemeral_id": "x:abc"})) == (
        200,
        {
            "success": True,
            "challenge_ts": "2023-11-14T22:13:20.123Z",
            "hostname": "shop.example",
            "error-codes": [],
            "action": "login",
            "cdata": "session-1",
            "metadata": {"interactive": True, "ephemeral_id": "x:abc"},
        },
    )
    # Turnstile always sends action and cdata, empty when unset; no score.
    _, body = render(T, success(action=None, cdata=None))
    assert body["action"] == "" and body["cdata"] == "" and "score" not in body
    assert "metadata" not in body


@pytest.mark.parametrize("dialect", list(Dialect))
def test_timestamps_parse_as_utc(dialect: Dialect) -> None:
    _, body = render(dialect, success())
    stamp = body["challenge_ts"]
    assert isinstance(stamp, str) and stamp.endswith("Z")
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
    assert int(parsed.timestamp()) == int(TS)


def test_unrenderable_timestamp_is_omitted() -> None:
    for dialect in Dialect:
        _, body = render(dialect, success(challenge_ts=float("nan")))
        assert "challenge_ts" not in body


@pytest.mark.parametrize(
    ("risk", "haechi", "recaptcha", "hcaptcha"),
    [
        (0, 1.0, 1.0, 0.0),
        (1, 0.99, 0.9, 0.01),
        (13, 0.87, 0.8, 0.13),
        (50, 0.5, 0.5, 0.5),
        (95, 0.05, 0.0, 0.95),
        (100, 0.0, 0.0, 1.0),
        (-5, 1.0, 1.0, 0.0),
        (250, 0.0, 0.0, 1.0),
    ],
)
def test_score_conventions(risk: int, haechi: float, recaptcha: float, hcaptcha: float) -> None:
    assert dialects.haechi_score(risk) == haechi
    assert dialects.recaptcha_score(risk) == recaptcha
    assert dialects.hcaptcha_score(risk) == hcaptcha
    # reCAPTCHA never claims more humanity than Haechi measured.
    assert dialects.recaptcha_score(risk) <= dialects.haechi_score(risk)


# ------------------------------------------------------------------------------------ requests

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
FULL = VerifyRequest(
    secret="s3cret", response="tok", remoteip="203.0.113.7", sitekey="sk", idempotency_key="ik"
)


def form(**fields: str) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()


def multipart(fields: dict[str, str], boundary: str = "----hb") -> tuple[str, bytes]:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = "".join(parts) + f"--{boundary}--\r\n"
    return f"multipart/form-data; boundary={boundary}", body.encode()


ALL_FIELDS = {
    "secret": "s3cret",
    "response": "tok",
    "remoteip": "203.0.113.7",
    "sitekey": "sk",
    "idempotency_key": "ik",
}

# What each dialect reads out of the same five parameters.
DIALECT_VIEW = {
    H: FULL,
    R: VerifyRequest(secret="s3cret", response="tok", remoteip="203.0.113.7"),
    C: VerifyRequest(secret="s3cret", response="tok", remoteip="203.0.113.7", sitekey="sk"),
    T: VerifyRequest(secret="s3cret", response="tok", remoteip="203.0.113.7", idempotency_key="ik"),
}


@pytest.mark.parametrize("dialect", list(Dialect))
@pytest.mark.parametrize(
    "encoding",
    ["form", "form-charset", "no-content-type", "json", "json-charset", "multipart"],
)
def test_parse_body_encodings(dialect: Dialect, encoding: str) -> None:
    if encoding == "form":
        ctype, body = FORM, form(**ALL_FIELDS)
    elif encoding == "form-charset":
        ctype, body = "Application/X-WWW-Form-Urlencoded; charset=UTF-8", form(**ALL_FIELDS)
    elif encoding == "no-content-type":
        ctype, body = None, form(**ALL_FIELDS)  # type: ignore[assignment]
    elif encoding == "json":
        ctype, body = JSON, orjson.dumps(ALL_FIELDS)
    elif encoding == "json-charset":
        ctype, body = "application/json; charset=utf-8", orjson.dumps(ALL_FIELDS)
    else:
        ctype, body = multipart(ALL_FIELDS)
    assert parse_request(dialect, ctype, body, {}) == DIALECT_VIEW[dialect]


def test_form_details() -> None:
    body = b"secret=a&response=b+c%2Bd%3D&remoteip=&secret=second&extra=ignored"
    assert parse_request(H, FORM, body, {}) == VerifyRequest(secret="a", response="b c+d=")


def test_json_null_and_unknown_fields() -> None:
    # Cloudflare's own example sends remoteip: null when CF-Connecting-IP is absent.
    body = orjson.dumps({"secret": "a", "response": "b", "remoteip": None, "other": [1, {}]})
    assert parse_request(T, JSON, body, {}) == VerifyRequest(secret="a", response="b")


def test_empty_body_reads_nothing() -> None:
    assert parse_request(H, FORM, b"", {}) == VerifyRequest()
    assert parse_request(H, None, b"", {}) == VerifyRequest()


@pytest.mark.parametrize("dialect", [R, C, T])
def test_query_string_for_vendor_dialects(dialect: Dialect) -> None:
    query = {"secret": "q-secret", "response": "q-token", "remoteip": "198.51.100.1"}
    got = parse_request(dialect, None, b"", query)
    assert got == VerifyRequest(secret="q-secret", response="q-token", remoteip="198.51.100.1")
    # The body wins over the query string; the query fills what the body lacks.
    got = parse_request(dialect, FORM, form(secret="b-secret"), query)
    assert isinstance(got, VerifyRequest)
    assert (got.secret, got.response) == ("b-secret", "q-token")


def test_haechi_ignores_the_query_string() -> None:
    query = {"secret": "q-secret", "response": "q-token"}
    assert parse_request(H, None, b"", query) == VerifyRequest()


@pytest.mark.parametrize(
    ("raw", "lenient"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("203.0.113.7, 10.0.0.1", "203.0.113.7"),
        ("None", None),
        ("not an ip", None),
    ],
)
def test_remoteip_leniency(raw: str, lenient: str | None) -> None:
    for dialect in (R, T):
        got = parse_request(dialect, FORM, form(remoteip=raw), {})
        assert isinstance(got, VerifyRequest) and got.remoteip == lenient
    # hCaptcha validates remoteip (invalid-remoteip) and Haechi does too: passed through as is.
    for dialect in (C, H):
        got = parse_request(dialect, FORM, form(remoteip=raw), {})
        assert isinstance(got, VerifyRequest) and got.remoteip == raw


LONG = "x" * (dialects.MAX_FIELD_LENGTH + 1)


@pytest.mark.parametrize(
    ("ctype", "body"),
    [
        ("text/plain", b"secret=a&response=b"),
        ("application/xml", b"<secret>a</secret>"),
        (JSON, b"{not json"),
        (JSON, b"[1, 2]"),
        (JSON, b'"secret"'),
        (JSON, b"null"),
        (JSON, b'{"secret": 12, "response": "b"}'),
        (JSON, b'{"secret": "a", "response": ["b"]}'),
        (JSON, b'{"secret": "a", "response": true}'),
        (JSON, b'{"secret": "a", "response": {"t": "b"}}'),
        (JSON, b'{"secret": "\xff"}'),
        (JSON, orjson.dumps({"secret": "a", "response": LONG})),
        (FORM, form(secret="a", response=LONG)),
        (FORM, b"secret=%ff%fe&response=b"),
        (FORM, b"secret=\xff"),
        (FORM, "&".join(f"f{i}=v" for i in range(200)).encode()),
        (FORM, b"x" * (dialects.MAX_BODY_BYTES + 1)),
        ("multipart/form-data", b"--x\r\n\r\n--x--"),
        ("multipart/form-data; boundary=hb\r\nX-Injected: 1", multipart({"secret": "a"})[1]),
        ("multipart/form-data; boundary=hb", multipart({"secret": LONG}, boundary="hb")[1]),
        ("multipart/form-data; boundary=ü", b"--\xc3\xbc--"),
    ],
)
def test_bad_requests(ctype: str, body: bytes) -> None:
    for dialect in Dialect:
        assert parse_request(dialect, ctype, body, {}) is Failure.BAD_REQUEST


def test_overlong_query_value_is_bad_request() -> None:
    assert parse_request(R, None, b"", {"response": LONG}) is Failure.BAD_REQUEST


def test_fields_outside_the_dialect_are_ignored_even_if_malformed() -> None:
    body = orjson.dumps({"secret": "a", "response": "b", "sitekey": 7, "idempotency_key": LONG})
    assert parse_request(R, JSON, body, {}) == VerifyRequest(secret="a", response="b")
    assert parse_request(H, JSON, body, {}) is Failure.BAD_REQUEST


def test_multipart_with_unicode_and_repeated_fields() -> None:
    ctype, body = multipart({"secret": "a", "response": "töken"})
    body = body.replace(
        b"--\r\n", b'\r\nContent-Disposition: form-data; name="secret"\r\n\r\nb\r\n'
    )
    body += b"------hb--\r\n"
    # The first occurrence of a repeated field counts.
    got = parse_request(T, ctype, body, {})
    assert got == VerifyRequest(secret="a", response="töken")


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\x01\x02",
        b"%%%%&&&===",
        b"{",
        bytes(range(256)),
        b"\xef\xbb\xbfsecret=a",
    ],
)
@pytest.mark.parametrize(
    "ctype", [None, FORM, JSON, "multipart/form-data; boundary=zz", "", ";;;", "a/b; c"]
)
def test_garbage_never_raises(ctype: str | None, body: bytes) -> None:
    for dialect in Dialect:
        result = parse_request(dialect, ctype, body, {"secret": "\x00"})
        assert isinstance(result, VerifyRequest | Failure)


# ----------------------------------------------------------------------------------- test keys

HAECHI_PASS = ("hk_test_pass_00000000000000", "hs_test_pass_0000000000000000000000000000000")
HAECHI_FAIL = ("hk_test_fail_00000000000000", "hs_test_fail_0000000000000000000000000000000")


@pytest.mark.parametrize(
    ("secret", "behaviour"),
    [
        ("6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe", "pass"),
        ("0x0000000000000000000000000000000000000000", "pass"),
        ("1x0000000000000000000000000000000AA", "pass"),
        ("2x0000000000000000000000000000000AA", "fail"),
        ("3x0000000000000000000000000000000AA", "fail"),
        (HAECHI_PASS[1], "pass"),
        (HAECHI_FAIL[1], "fail"),
        # Sitekeys are not secrets, and near misses are nothing.
        ("6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI", None),
        ("1x00000000000000000000AA", None),
        (HAECHI_PASS[0], None),
        ("1x0000000000000000000000000000000aa", None),
        ("hs_test_pass_000000000000000000000000000000", None),
        ("", None),
        (None, None),
    ],
)
def test_secret_behaviour(secret: str | None, behaviour: str | None) -> None:
    assert dialects.test_key_behaviour(secret) == behaviour


@pytest.mark.parametrize(
    ("sitekey", "behaviour"),
    [
        ("6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI", "pass"),
        ("10000000-ffff-ffff-ffff-000000000001", "pass"),
        ("20000000-ffff-ffff-ffff-000000000002", "pass"),
        ("30000000-ffff-ffff-ffff-000000000003", "pass"),
        ("1x00000000000000000000AA", "pass"),
        ("2x00000000000000000000AB", "fail"),
        ("1x00000000000000000000BB", "pass"),
        ("2x00000000000000000000BB", "fail"),
        ("3x00000000000000000000FF", "pass"),
        (HAECHI_PASS[0], "pass"),
        (HAECHI_FAIL[0], "fail"),
        (HAECHI_PASS[1], None),
    ],
)
def test_sitekey_behaviour(sitekey: str, behaviour: str | None) -> None:
    assert dialects.test_sitekey_behaviour(sitekey) == behaviour


def test_test_key_table_is_consistent() -> None:
    for key, entry in dialects.TEST_KEYS.items():
        assert key == key.strip() and key
        if entry.kind == "secret" and entry.behaviour == "fail":
            assert entry.failure in (Failure.TEST_FAIL, Failure.DUPLICATE)
        else:
            assert entry.failure is None


def test_vendor_test_secrets_render_like_the_vendor() -> None:
    now = 1_700_000_000.5
    google = dialects.test_key_verdict("6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe", now=now)
    assert google is not None
    assert render(R, google) == (
        200,
        {"success": True, "challenge_ts": "2023-11-14T22:13:20Z", "hostname": "testkey.google.com"},
    )

    hcap = dialects.test_key_verdict("0x0000000000000000000000000000000000000000", now=now)
    assert hcap is not None
    assert render(C, hcap) == (
        200,
        {
            "success": True,
            "challenge_ts": "2023-11-14T22:13:20.500000Z",
            "hostname": "dummy-key-pass",
            "credit": False,
        },
    )

    cf_pass = dialects.test_key_verdict("1x0000000000000000000000000000000AA", now=now)
    assert cf_pass is not None
    assert render(T, cf_pass) == (
        200,
        {
            "success": True,
            "challenge_ts": "2023-11-14T22:13:20.500Z",
            "hostname": "example.com",
            "error-codes": [],
            "metadata": {"result_with_testing_key": True},
        },
    )
    cf_fail = dialects.test_key_verdict("2x0000000000000000000000000000000AA", now=now)
    assert cf_fail is not None
    assert render(T, cf_fail) == (
        200,
        {
            "success": False,
            "error-codes": ["invalid-input-response"],
            "messages": [],
            "metadata": {"result_with_testing_key": True},
        },
    )
    cf_spent = dialects.test_key_verdict("3x0000000000000000000000000000000AA", now=now)
    assert cf_spent is not None
    assert render(T, cf_spent)[1]["error-codes"] == ["timeout-or-duplicate"]
    assert render(C, cf_spent)[1]["error-codes"] == ["already-seen-response"]


def test_haechi_test_secrets() -> None:
    now = 1_700_000_000.0
    passing = dialects.test_key_verdict(HAECHI_PASS[1], now=now)
    assert passing is not None and passing.success
    assert (passing.hostname, passing.risk, passing.challenge_ts) == ("localhost", 0, now)
    status, body = render(H, passing)
    assert status == 200
    assert body["score"] == 1.0 and body["hostname"] == "localhost"
    assert body["metadata"] == {"result_with_testing_key": True}

    failing = dialects.test_key_verdict(HAECHI_FAIL[1], now=now)
    assert failing is not None and failing.failure is Failure.TEST_FAIL
    assert render(H, failing) == (
        200,
        {
            "success": False,
            "error-codes": ["invalid-input-response"],
            "metadata": {"result_with_testing_key": True},
        },
    )

    assert dialects.test_key_verdict("not-a-test-secret", now=now) is None
    assert dialects.test_key_verdict(HAECHI_PASS[0], now=now) is None  # a sitekey


@pytest.mark.parametrize(
    "header",
    [b'; x="' + b"(" * 60_000 + b'"', b";" * 60_000],
)
def test_hostile_multipart_headers_are_cheap_bad_requests(header: bytes) -> None:
    import time

    body = (
        b'------hb\r\nContent-Disposition: form-data; name="secret"'
        + header
        + b"\r\n\r\nabc\r\n------hb--\r\n"
    )
    started = time.perf_counter()
    assert parse_request(T, "multipart/form-data; boundary=----hb", body, {}) is Failure.BAD_REQUEST
    assert time.perf_counter() - started < 0.05
