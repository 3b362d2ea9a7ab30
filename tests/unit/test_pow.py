from __future__ import annotations

import hashlib

import pytest

from haechi.protocol import pow as pow_


def test_solution_meets_the_documented_rule() -> None:
    params = pow_.PowParams("abc_DEF-123", bits=10, count=3)
    nonces = pow_.solve(params)
    assert pow_.check(params, nonces)
    for i, nonce in enumerate(nonces):
        # The rule exactly as docs/api.md writes it.
        digest = hashlib.sha256(f"hpow1:abc_DEF-123:{i}:{nonce}".encode()).digest()
        assert int.from_bytes(digest, "big") >> (256 - 10) == 0


@pytest.mark.parametrize(
    "nonces",
    [
        None,
        "1",
        [],
        [1, 2],
        [True, 0, 0],
        [-1, 0, 0],
        [2**53, 0, 0],
        [1.0, 2.0, 3.0],
        ["1", "2", "3"],
    ],
)
def test_malformed_solutions_fail(nonces: object) -> None:
    assert not pow_.check(pow_.PowParams("x", bits=4, count=3), nonces)


def test_wrong_nonce_fails_and_puzzles_are_bound_to_challenge_and_index() -> None:
    params = pow_.PowParams("id", bits=12, count=2)
    a, b = pow_.solve(params)
    assert a != b  # for these inputs; each puzzle has its own index in the hash
    assert not pow_.check(params, [b, a])
    # The reference solver returns the smallest solution, so every smaller nonce fails.
    for smaller in range(max(0, a - 50), a):
        assert not pow_.check(params, [smaller, b])
    # The same nonces do not solve another challenge's puzzles.
    assert not pow_.check(pow_.PowParams("id2", bits=12, count=2), [a, b])


def test_zero_count_and_zero_bits() -> None:
    assert pow_.check(pow_.PowParams("id", bits=16, count=0), [])
    assert pow_.check(pow_.PowParams("id", bits=0, count=2), [0, 0])
    assert pow_.PowParams("id", bits=4, count=3).expected_hashes == 48
