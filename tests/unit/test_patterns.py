"""Every pattern that validates input matches the whole value: ``$`` also matches before a
trailing newline, so an anchored ``match`` let ``action="login\\n"`` through to siteverify."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from haechi.challenges.pool import check_name
from haechi.core.blobs.base import valid_key
from haechi.core.errors import Invalid
from haechi.protocol.messages import parse_challenge

SRC = Path(__file__).resolve().parents[2] / "src" / "haechi"


@pytest.mark.parametrize(
    "field",
    [
        {"action": "login\n"},
        {"cdata": "order-7\n"},
        {"sitekey": "hk_test_pass_00000000000000\n"},
    ],
)
def test_a_trailing_newline_is_refused(field: dict[str, str]) -> None:
    body = {"sitekey": "hk_test_pass_00000000000000", **field}
    with pytest.raises(Invalid):
        parse_challenge(body)


def test_the_same_values_without_it_pass() -> None:
    parsed = parse_challenge(
        {"sitekey": "hk_test_pass_00000000000000", "action": "login", "cdata": "order-7"}
    )
    assert (parsed.action, parsed.cdata) == ("login", "order-7")


def test_blob_keys_and_pool_names_refuse_a_trailing_newline() -> None:
    assert valid_key("pools/grid/1/a.webp")
    assert not valid_key("pools/grid/1/a.webp\n")
    with pytest.raises(ValueError):
        check_name("grid\n")


def _patterns() -> list[tuple[str, int, str]]:
    found = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"compile", "match", "fullmatch", "search"}
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "re"
                and node.args
                and isinstance(node.args[0], ast.Constant | ast.JoinedStr)
            ):
                text = ast.unparse(node.args[0])
                found.append((str(path.relative_to(SRC)), node.lineno, text))
    return found


def test_no_pattern_in_the_package_is_anchored_with_a_dollar() -> None:
    """Anchor with ``fullmatch`` instead: ``$`` matches before a final newline too."""
    assert _patterns(), "the scan found no patterns at all"
    anchored = [p for p in _patterns() if p[2].rstrip("'\"").endswith("$")]
    assert anchored == []
