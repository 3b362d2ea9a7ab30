"""``haechi challenges build-pool`` and ``list-pools`` on the embedded folder backend."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from haechi.cli import main
from tests.skips import NO_ESPEAK


def run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {"HAECHI_DATA_DIR": str(tmp_path / "data"), "HAECHI_POOLS__MIN_ITEMS": "2"}
    result = CliRunner().invoke(main, ["challenges", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_unknown_or_poolless_type_is_refused(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "build-pool", "--type", "glyph", "--count", "1")
    assert code != 0 and "does not use a pool" in err and "audio" in err
    code, _, err = run(tmp_path, "build-pool", "--type", "nope", "--count", "1")
    assert code != 0


def test_enqueue_needs_the_redis_backend(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "build-pool", "--type", "audio", "--enqueue")
    assert code != 0 and "HAECHI_JOBS__BACKEND=redis" in err


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None and os.environ.get("CI") != "true",
    reason=NO_ESPEAK,
)
def test_build_then_list(tmp_path: Path) -> None:
    code, _, _ = run(tmp_path, "list-pools", "--json")
    assert code == 0
    code, out, err = run(
        tmp_path, "build-pool", "--type", "audio", "--count", "2", "--seed", "1", "--json"
    )
    assert code == 0, err
    built = json.loads(out)
    assert built["state"] == "current" and built["count"] == 2
    assert "building the audio pool" in err  # the progress bar's label, on stderr
    items = list(
        (tmp_path / "data" / "blobs" / "pools" / "audio" / built["id"] / "items").iterdir()
    )
    assert len(items) == 2

    code, out, _ = run(tmp_path, "list-pools", "--json")
    listed = json.loads(out)
    audio = next(p for p in listed["data"] if p["name"] == "audio")
    assert audio["current"] == built["id"] and audio["items"] == 2 and audio["ready"] is True

    code, out, _ = run(tmp_path, "list-pools")
    assert code == 0 and built["id"] in out and "ready" in out
