"""Tuned gains survive restarts, are written atomically, and a bad file never stops the machine."""

import json
import logging
import os

import pytest

from controller.storage import gains as gains_store
from controller.storage.gains import gains_path, load_gains, save_gains

PADS = ["left_foot", "left_calf", "right_foot", "right_calf"]
DEFAULT = (0.4, 0.004, 2.5)


def test_saved_gains_come_back_and_other_pads_keep_the_defaults(tmp_path):
    save_gains(tmp_path, "left_calf", (0.6, 0.003, 7.0))
    save_gains(tmp_path, "right_foot", (0.5, 0.002, 6.0))
    save_gains(tmp_path, "left_calf", (0.61, 0.0031, 7.1))  # a re-tune replaces, keeps the others
    gains = load_gains(tmp_path, PADS, DEFAULT)
    assert gains == {
        "left_foot": DEFAULT,
        "left_calf": (0.61, 0.0031, 7.1),
        "right_foot": (0.5, 0.002, 6.0),
        "right_calf": DEFAULT,
    }
    data = json.loads(gains_path(tmp_path).read_text())
    assert data["version"] == 1 and set(data["pads"]) == {"left_calf", "right_foot"}


def test_no_file_means_defaults_without_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert load_gains(tmp_path / "missing", PADS, DEFAULT) == {p: DEFAULT for p in PADS}
    assert not caplog.records


def test_the_write_is_atomic_and_synced(tmp_path, monkeypatch):
    save_gains(tmp_path, "left_calf", (0.6, 0.003, 7.0))
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(gains_store.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    save_gains(tmp_path, "left_foot", (0.5, 0.002, 6.0))
    assert len(synced) >= 2  # the temp file, then the directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pid_gains.json"]  # no temp file left


def test_a_crash_before_the_rename_leaves_the_old_file_whole(tmp_path, monkeypatch):
    save_gains(tmp_path, "left_calf", (0.6, 0.003, 7.0))
    before = gains_path(tmp_path).read_bytes()

    def power_cut(src, dst):
        raise OSError("power lost")

    monkeypatch.setattr(gains_store.os, "replace", power_cut)
    with pytest.raises(OSError):
        save_gains(tmp_path, "left_foot", (0.5, 0.002, 6.0))
    assert gains_path(tmp_path).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pid_gains.json"]
    assert load_gains(tmp_path, PADS, DEFAULT)["left_calf"] == (0.6, 0.003, 7.0)


@pytest.mark.parametrize("content", [
    b"{not json",
    b"\xff\xfe\x00garbage",
    b"[1, 2, 3]",
    b'{"version": 1, "pads": "left_calf"}',
    b"",
])
def test_a_corrupt_file_gives_the_defaults_and_a_warning(tmp_path, caplog, content):
    gains_path(tmp_path).write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="legtherapy.gains"):
        assert load_gains(tmp_path, PADS, DEFAULT) == {p: DEFAULT for p in PADS}
    assert any("default" in r.getMessage() for r in caplog.records)


def test_bad_entries_fall_back_per_pad(tmp_path, caplog):
    gains_path(tmp_path).write_text(json.dumps({"version": 1, "pads": {
        "left_foot": {"kp": -1, "ki": 0.1, "kd": 1},
        "left_calf": {"kp": "NaN", "ki": 0.1, "kd": 1},
        "right_foot": {"kp": 0.5},
        "right_calf": {"kp": 0.7, "ki": 0.002, "kd": 5.0},
    }}))
    with caplog.at_level(logging.WARNING, logger="legtherapy.gains"):
        gains = load_gains(tmp_path, PADS, DEFAULT)
    assert gains == {"left_foot": DEFAULT, "left_calf": DEFAULT, "right_foot": DEFAULT,
                     "right_calf": (0.7, 0.002, 5.0)}
    assert len(caplog.records) == 3


def test_an_unreadable_file_gives_the_defaults(tmp_path, caplog):
    gains_path(tmp_path).mkdir()  # a directory where the file should be
    with caplog.at_level(logging.WARNING, logger="legtherapy.gains"):
        assert load_gains(tmp_path, PADS, DEFAULT) == {p: DEFAULT for p in PADS}
    assert caplog.records


def test_saving_invalid_gains_is_refused_before_touching_the_file(tmp_path):
    with pytest.raises(ValueError):
        save_gains(tmp_path, "left_calf", (float("nan"), 0.0, 0.0))
    assert not gains_path(tmp_path).exists()
