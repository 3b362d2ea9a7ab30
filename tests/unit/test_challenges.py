from __future__ import annotations

import json
import random
from pathlib import Path

import jsonschema
import pytest

from haechi.challenges import ChallengeContext, default_registry, pick_locale
from haechi.challenges.glyph import GlyphGrid

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
TASK = json.loads((SCHEMAS / "challenge-task.v1.json").read_text())
SUBMISSION = json.loads((SCHEMAS / "challenge-submission.v1.json").read_text())


def test_schemas_are_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(TASK)
    jsonschema.Draft202012Validator.check_schema(SUBMISSION)


@pytest.mark.parametrize("locale", ["en", "ko"])
async def test_glyph_task_matches_schema_and_hides_nothing_in_ids(locale: str) -> None:
    kind = GlyphGrid()
    ctx = ChallengeContext("hk_x", "example.com")
    for seed in range(20):
        task, answer = await kind.generate(ctx, random.Random(seed), 0.5, locale)
        jsonschema.validate(task, TASK)
        assert 2 <= len(answer) <= 5
        ids = [c["id"] for c in task["cells"]]
        assert len(set(ids)) == 9
        assert json.dumps(answer) not in json.dumps(task)
        right = {"cells": list(answer)}
        jsonschema.validate(right, SUBMISSION)
        assert kind.check(answer, right).ok
        assert kind.check(answer, {"cells": list(reversed(answer))}).ok
        assert not kind.check(answer, {"cells": answer[:-1]}).ok
        assert not kind.check(
            answer, {"cells": [*answer, ids[0]] if ids[0] not in answer else answer[1:]}
        ).ok


@pytest.mark.parametrize(
    "submission",
    [
        None,
        1,
        "x",
        [],
        {},
        {"cells": "a"},
        {"cells": [1, 2]},
        {"cells": ["a"] * 10},
        {"cells": ["a", "a"]},
    ],
)
def test_glyph_check_never_raises(submission: object) -> None:
    result = GlyphGrid().check(["a", "b"], submission)
    assert not result.ok and result.reason


def test_registry_and_locale() -> None:
    registry = default_registry()
    assert registry.names() == ["glyph"]
    assert not registry.usable("glyph", [])
    assert registry.usable("glyph", ["glyph"])
    assert not registry.usable("grid", ["grid"])
    with pytest.raises(ValueError):
        registry.register(GlyphGrid())
    assert pick_locale("ko-KR") == "ko" and pick_locale("fr") == "en" and pick_locale(None) == "en"
