from __future__ import annotations

import pytest

from haechi.core.crypto import (
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
    assert sealed.startswith("v1.k1.")
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
        (lambda s: s.replace("v1.", "v2.", 1), "malformed"),
        (lambda s: s.replace(".k1.", ".k9.", 1), "unknown-key"),
        (lambda s: s + ".extra", "malformed"),
        (lambda s: "v1.k1.!!!", "malformed"),
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
    assert new.seal("token", b"y").startswith("v1.k2.")
    dropped = Keyring({"k2": K2}, "k2")
    with pytest.raises(SealError):
        dropped.open("token", sealed)


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
    for bad in ("", "a", "a=b", "%%%%"):
        with pytest.raises(ValueError):
            b64d(bad)


def test_dev_keys_are_private_and_persistent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = load_or_create_dev_keys(tmp_path)
    assert (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600
    assert load_or_create_dev_keys(tmp_path) == first
