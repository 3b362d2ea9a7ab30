"""The SapiMouse reader: the documented mapping, a subject-level split, clean telemetry v1.

Tests that need the dataset skip when it is absent; CI has it at ``../shared/data/sapimouse``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from haechi.ml import sapimouse as sm
from haechi.risk import features as F
from haechi.risk.telemetry import MAX_EVENTS, parse_telemetry

CSV = """client timestamp,button,state,x,y
15585,NoButton,Move,967,706
15601,NoButton,Move,958,700
15617,NoButton,Move,901,679
15630,Left,Pressed,901,679
15646,Left,Drag,905,680
15660,Left,Released,905,680
15655,NoButton,Move,910,681
15690,Right,Pressed,910,681
15750,Right,Released,910,681
15800,Other,Pressed,910,681
15801,Other,Drag,911,681
15850,Other,Released,911,681
15900,Bogus,Move,1,1
15910,NoButton,Pressed,1,1
oops
"""


@pytest.fixture(scope="module")
def root() -> Path:
    found = sm.find_data_dir()
    if found is None:
        pytest.skip("SapiMouse is not here (../shared/data/sapimouse or /work/shared/data)")
    return found


def test_csv_mapping(tmp_path: Path) -> None:
    path = tmp_path / "session_1min.csv"
    path.write_text(CSV)
    traj, skipped, clamped = sm.read_csv(path)
    assert skipped == 3  # an unknown button, a press of no button, a short row
    assert clamped == 1  # 15655 after 15660
    assert traj.t.tolist() == [0, 16, 32, 45, 61, 75, 75, 105, 165, 215, 216, 265]
    assert traj.kind.tolist() == [0, 0, 0, 1, 0, 2, 0, 1, 2, 1, 0, 2]
    assert traj.button.tolist() == [-1, -1, -1, 0, 0, 0, -1, 2, 2, 1, 1, 1]
    assert traj.x.tolist()[:4] == [967, 958, 901, 901]
    obj = {"v": 1, "viewport": None, "pointer": "mouse", "events": F.to_events(traj)}
    assert parse_telemetry(obj).anomalies == 0


def test_subject_ids() -> None:
    assert sm.subject_of("user35.1") == 35
    assert sm.subject_of("user120") == 120
    assert sm.subject_of("LICENSE.txt") is None
    assert sm.subject_of("user") is None


def test_split_is_by_subject_and_fixed() -> None:
    ids = list(range(1, 121))
    split = sm.split_subjects(ids)
    parts = [set(split.train), set(split.validation), set(split.test)]
    assert [len(p) for p in parts] == [72, 24, 24]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set().union(*parts) == set(ids)
    assert sm.split_subjects(list(reversed(ids))) == split
    assert sm.split_subjects(ids, seed=6) != split
    assert split.part("test") == split.test
    with pytest.raises(ValueError):
        split.part("holdout")


def test_dataset_has_120_subjects_in_three_disjoint_parts(root: Path) -> None:
    subjects = sm.subjects(root)
    assert len(subjects) == 120
    split = sm.split_subjects(subjects)
    seen: dict[int, str] = {}
    for name in ("train", "validation", "test"):
        for s in split.part(name):
            assert s not in seen, f"subject {s} in {seen.get(s)} and {name}"
            seen[s] = name
    # Subjects 35 and 62 are split over two folders each: one person, one side of the split.
    files = [p for s, p in sm.list_files(root) if s == 35]
    assert {p.parent.name for p in files} == {"user35.1", "user35.2"}


def test_recordings_convert_to_clean_telemetry(root: Path) -> None:
    recordings = sm.load(root, only=[35])
    assert len(recordings) == 4
    for rec in recordings:
        assert rec.subject == 35
        assert (np.diff(rec.trajectory.t) >= 0).all()
        chunks = list(sm.telemetry_chunks(rec))
        assert chunks
        for obj in chunks:
            tele = parse_telemetry(obj)
            assert tele.anomalies == 0
            assert 0 < len(tele.events) <= MAX_EVENTS
            assert tele.events[0][0] == 0
            assert tele.viewport is None and tele.pointer == "mouse"
        total = sum(len(obj["events"]) for obj in chunks)  # type: ignore[arg-type]
        assert total == len(F.to_events(rec.trajectory))
        fs = F.extract(parse_telemetry(chunks[0]))
        assert fs.matrix.shape[0] >= 5 and not fs.flags


def test_data_dir_from_environment(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sm.DATA_ENV, str(root))
    assert sm.find_data_dir() == root
    assert sm.find_data_dir("/nonexistent") == root  # falls through to the next candidate


def test_long_recordings_are_cut_at_pauses() -> None:
    # 4,500 moves 16 ms apart with a 1 s rest before moves 699, 1399, 2099, ...
    t = np.cumsum(np.where(np.arange(4500) % 700 == 699, 1000.0, 16.0))
    traj = F.Trajectory(
        t,
        np.zeros(4500, np.int8),
        np.arange(4500) % 800 * 1.0,
        np.zeros(4500),
        np.full(4500, -1, np.int8),
    )
    chunks = list(sm.telemetry_chunks(sm.Recording(1, "user1/session", traj)))
    # Each cut at the last rest in the second half of its 2,000 events; the rest fits in one.
    assert [len(c["events"]) for c in chunks] == [1399, 1400, 1701]  # type: ignore[arg-type]
    for obj in chunks:
        tele = parse_telemetry(obj)
        assert tele.anomalies == 0 and tele.events[0][0] == 0
