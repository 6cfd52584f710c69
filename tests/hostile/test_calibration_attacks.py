"""Garbage in ``pressure_offsets.json``: refused as a whole, loudly, never half-applied.

An offset is subtracted from every pressure reading: a wrong one hides a real pressure from the
over-pressure trip. So a file that is not JSON, nests, holds NaN or a number beyond the bound
(a sensor or hose fault, not an offset) is refused with a warning naming the file and the
reason, and the machine runs uncalibrated (offset 0) as it would before its first calibration.
"""

from __future__ import annotations

import json
import logging

import pytest

from controller.model.config import MAX_PRESSURE_OFFSET_MMHG, load_config
from controller.storage.calibration import load_pressure_offsets, offsets_path, save_pressure_offsets

CHAMBERS = load_config().chamber_names


@pytest.mark.parametrize("content,why", [
    ("not json at all", "not valid JSON"),
    ("[" * 50_000 + "]" * 50_000, "more than a calibration file holds"),
    ('{"left_foot":' + "[" * 1000 + "]" * 1000 + "}", "nested deeper"),
    ('{"left_foot": NaN}', "not a finite number"),
    ('{"left_foot": 1e999}', "not a finite number"),
    ('{"left_foot": "3.0"}', "not a finite number"),
    ('{"left_foot": true}', "not a finite number"),
    ('{"left_nose": 1.0}', "not a chamber"),
    ("[1.0, 2.0]", "not a JSON object"),
    (json.dumps({"left_foot": MAX_PRESSURE_OFFSET_MMHG + 0.5}), "beyond"),
    (json.dumps({"left_foot": 1.0, "left_calf": -(MAX_PRESSURE_OFFSET_MMHG + 1)}), "beyond"),
])
def test_a_garbage_calibration_file_is_refused_loudly_and_nothing_of_it_is_applied(tmp_path, caplog, content, why):
    offsets_path(tmp_path).write_text(content)
    with caplog.at_level(logging.WARNING, logger="legtherapy.calibration"):
        assert load_pressure_offsets(tmp_path, CHAMBERS) == {}
    assert str(offsets_path(tmp_path)) in caplog.text and "refused" in caplog.text
    assert why in caplog.text, caplog.text


def test_a_non_utf8_calibration_file_is_refused_loudly(tmp_path, caplog):
    offsets_path(tmp_path).write_bytes(b"\xff\xfe{}")
    with caplog.at_level(logging.WARNING, logger="legtherapy.calibration"):
        assert load_pressure_offsets(tmp_path, CHAMBERS) == {}
    assert "not read" in caplog.text


def test_an_offset_at_the_bound_is_accepted_and_one_beyond_is_not(tmp_path):
    save_pressure_offsets(tmp_path, {"left_foot": MAX_PRESSURE_OFFSET_MMHG, "left_calf": -1.5})
    assert load_pressure_offsets(tmp_path, CHAMBERS) == {"left_foot": MAX_PRESSURE_OFFSET_MMHG, "left_calf": -1.5}
    save_pressure_offsets(tmp_path, {"left_foot": MAX_PRESSURE_OFFSET_MMHG + 0.01})
    assert load_pressure_offsets(tmp_path, CHAMBERS) == {}
