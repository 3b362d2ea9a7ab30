from __future__ import annotations

import base64
import hmac

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from haechi.core.crypto import (
    EPOCH_SECONDS,
    Keyring,
    SealError,
    b64d,
    b64e,
    constant_time_equal,
    load_or_create_dev_keys,
    secret_digest,
)

K1 = b"\x01" * 32
K2 = b"\x02" * 32


def test_seal_round_trip_and_purpose_separation() -> None:
    ring = Keyring({"k1": K1}, "k1")
    sealed = ring.seal("challenge", b"hello")
    assert sealed.startswith("v2.k1.")
    assert b"hello" not in b64d(sealed.split(".")[2])
    assert ring.open("challenge", sealed) == b"hello"
    # A challenge never opens as a token.
    with pytest.raises(SealError) as error:
        ring.open("token", sealed)
    assert error.value.kind == "bad-tag"


@pytest.mark.parametrize(
    ("mutate", "kind"),
    [
        (lambda s: s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1], "bad-tag"),
        (lambda s: s.replace("v2.", "v3.", 1), "malformed"),
        (lambda s: s.replace(".k1.", ".k9.", 1), "unknown-key"),
        (lambda s: s + ".extra", "malformed"),
        (lambda s: "v2.k1.!!!", "malformed"),
        (lambda s: "v2.k1.AAAA", "malformed"),
        (lambda s: "v1.k1.AAAA", "malformed"),
        (lambda s: "", "malformed"),
    ],
)
def test_tampering_is_detected(mutate, kind) -> None:  # type: ignore[no-untyped-def]
    ring = Keyring({"k1": K1}, "k1")
    with pytest.raises(SealError) as error:
        ring.open("token", mutate(ring.seal("token", b'{"a":1}')))
    assert error.value.kind == kind


def test_rotation_keeps_old_ids_opening() -> None:
    old = Keyring({"k1": K1}, "k1")
    sealed = old.seal("token", b"x")
    new = Keyring({"k1": K1, "k2": K2}, "k2")
    assert new.open("token", sealed) == b"x"
    assert new.seal("token", b"y").startswith("v2.k2.")
    dropped = Keyring({"k2": K2}, "k2")
    with pytest.raises(SealError):
        dropped.open("token", sealed)


def _v1_seal(raw: bytes, purpose: str, plaintext: bytes) -> str:
    """A value as releases before v2 sealed it: AES-256-GCM-SIV, one subkey per purpose."""
    info = b"haechi/" + purpose.encode()
    sub = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(raw)
    nonce = b"\x07" * 12
    sealed = AESGCMSIV(sub).encrypt(nonce, plaintext, f"v1|{purpose}|k1".encode())
    return f"v1.k1.{b64e(nonce + sealed)}"


def test_values_sealed_before_v2_still_open() -> None:
    ring = Keyring({"k1": K1}, "k1")
    old = _v1_seal(K1, "token", b'{"id":"x"}')
    assert ring.open("token", old) == b'{"id":"x"}'
    with pytest.raises(SealError) as error:
        ring.open("challenge", old)  # purposes stay apart
    assert error.value.kind == "bad-tag"
    with pytest.raises(SealError) as error:
        ring.open("token", old[:-2] + ("A" if old[-2] != "A" else "B") + old[-1])
    assert error.value.kind == "bad-tag"


def test_each_hour_seals_under_its_own_subkey_and_a_day_old_value_is_refused() -> None:
    now = [1_765_000_000.0]
    ring = Keyring({"k1": K1}, "k1", clock=lambda: now[0])
    sealed = ring.seal("token", b"hour")
    # The hour is bound: the same bytes claimed for the previous hour do not open.
    blob = bytearray(b64d(sealed.split(".")[2]))
    hour = int.from_bytes(blob[:4], "big")
    assert hour == int(now[0] // EPOCH_SECONDS)
    blob[:4] = (hour - 1).to_bytes(4, "big")
    with pytest.raises(SealError) as error:
        ring.open("token", f"v2.k1.{b64e(bytes(blob))}")
    assert error.value.kind == "bad-tag"
    assert ring.seal("token", b"x").split(".")[2][:5] == sealed.split(".")[2][:5]  # same hour
    now[0] += 23 * EPOCH_SECONDS
    assert ring.open("token", sealed) == b"hour"
    now[0] += 2 * EPOCH_SECONDS
    with pytest.raises(SealError) as error:
        ring.open("token", sealed)
    assert error.value.kind == "malformed"
    # A replica whose clock runs an hour behind still opens what another just sealed.
    ahead = Keyring({"k1": K1}, "k1", clock=lambda: now[0] + EPOCH_SECONDS)
    assert ring.open("token", ahead.seal("token", b"skew")) == b"skew"


def test_keyring_rejects_weak_keys() -> None:
    with pytest.raises(ValueError):
        Keyring({"k1": b"short"}, "k1")
    with pytest.raises(ValueError):
        Keyring({"k1": K1}, "k2")
    with pytest.raises(ValueError):
        Keyring({"a.b": K1}, "a.b")


def test_secret_digest_is_keyed_and_stable() -> None:
    assert secret_digest(b"p" * 32, "s") == secret_digest(b"p" * 32, "s")
    assert secret_digest(b"p" * 32, "s") != secret_digest(b"q" * 32, "s")
    assert len(secret_digest(b"p" * 32, "s")) == 64
    assert constant_time_equal("abc", "abc") and not constant_time_equal("abc", "abd")


def test_b64_strict() -> None:
    assert b64d(b64e(b"\xff\x00")) == b"\xff\x00"
    # Standard base64's "+" and "/", whitespace, padding inside, non-ASCII, and unused low bits
    # set ("AB", "AAB", "AB==": second spellings of the bytes of "AA", "AAA", "AA=="): refused.
    bad_inputs = ("", "a", "a=b", "%%%%", "ab+/", "ab/c", "ab c", "ab\ncd", "a=bc", "ab==cd", "абв")
    for bad in (*bad_inputs, "AB", "AAB", "AB=="):
        with pytest.raises(ValueError):
            b64d(bad)


@given(st.binary(min_size=1, max_size=300))
def test_b64_is_base64url_without_padding(data: bytes) -> None:
    text = b64e(data)
    assert text == base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert b64d(text) == data


@given(st.text(alphabet="ABQgwxyz019-_+/= \n", max_size=24))
def test_b64d_accepts_exactly_what_strict_base64url_accepts(text: str) -> None:
    padded = text + "=" * (-len(text) % 4)
    try:
        expected: bytes | None = base64.b64decode(padded, altchars=b"-_", validate=True)
    except ValueError:
        expected = None
    if not text or len(text) % 4 == 1 or "+" in text or "/" in text:
        expected = None  # refused before decoding: not base64url, or no whole byte
    elif expected is not None and b64e(expected) != text.rstrip("="):
        expected = None  # a second spelling of the same bytes (unused bits set)
    try:
        got: bytes | None = b64d(text)
    except ValueError:
        got = None
    assert got == expected


@given(st.binary(max_size=200), st.text(max_size=80))
def test_secret_digest_is_hmac_sha256(pepper: bytes, secret: str) -> None:
    """Long peppers (over SHA-256's 64-byte block) are hashed first, as RFC 2104 says."""
    assert secret_digest(pepper, secret) == hmac.digest(pepper, secret.encode(), "sha256").hex()


def test_dev_keys_are_private_and_persistent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = load_or_create_dev_keys(tmp_path)
    assert (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600
    assert load_or_create_dev_keys(tmp_path) == first
