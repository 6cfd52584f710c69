"""The service record: its reference fill model, its bounded file, a damaged file, the summary."""

from __future__ import annotations

import json
import math

import pytest

from controller.storage import service_record as sr, write_behind
from controller.storage.commissioning import ChamberRecord, Commissioning
from sim.params import load_sim_params
from sim.pneumatics import Pneumatics

POSITIONS = {"left_foot": "foot", "left_calf": "calf", "left_thigh": "thigh"}


def entry(percent: float | None, **chambers: sr.ChamberEntry) -> sr.SessionEntry:
    return sr.SessionEntry(ended_at="2026-11-30T06:00:00+00:00", program="full_leg", reference="rated",
                           pump_percent=percent, chambers=chambers)


def flushed(record: sr.ServiceRecord) -> sr.ServiceRecord:
    assert write_behind.for_directory(record.dir).flush(10)
    return sr.ServiceRecord(record.dir)


@pytest.mark.parametrize("position", ["foot", "calf", "thigh"])
@pytest.mark.parametrize("band", [(5.0, 40.0), (5.0, 20.0), (10.0, 60.0)])
def test_the_rated_reference_is_the_default_plants_own_fill_within_half_a_percent(position, band):
    """The constants are the default plant's (sim/default_params.toml): its exact analytic fill
    time over a band gives the same mean rate."""
    plant = Pneumatics(load_sim_params(None), [position], {position: position})
    lo, hi = band
    expected = (hi - lo) / plant.full_flow_fill_time_s(position, hi, lo)
    assert sr.RATED[position].rate(lo, hi) == pytest.approx(expected, rel=0.005)


def test_a_fill_slows_as_it_rises_so_a_band_is_compared_with_the_same_band():
    rated = sr.RATED["thigh"]
    assert rated.rate(5, 20) > rated.rate(5, 40) > rated.rate(20, 40)
    assert math.isnan(rated.rate(40, 5)) and math.isnan(rated.rate(5, 500))  # beyond the pump's reach


def test_a_commissioned_chamber_scales_the_default_curve_to_its_own_rate():
    thigh = sr.RATED["thigh"]
    own = ChamberRecord(fill_rate_mmhg_per_s=0.5 * thigh.rate(5.0, 40.0), from_mmhg=5.0, to_mmhg=40.0,
                        leak_mmhg_per_s=0.4, leak_at_mmhg=40.0)
    assert sr.reference_rate("thigh", 5.0, 40.0, own) == pytest.approx(own.fill_rate_mmhg_per_s)
    assert sr.reference_rate("thigh", 5.0, 20.0, own) == pytest.approx(0.5 * thigh.rate(5.0, 20.0))
    assert sr.reference_rate("thigh", 5.0, 20.0, None) == pytest.approx(thigh.rate(5.0, 20.0))
    assert math.isnan(sr.reference_rate("knee", 5.0, 20.0, None))


def test_the_reference_is_commissioned_only_when_every_chamber_was():
    record = ChamberRecord(fill_rate_mmhg_per_s=10.0, from_mmhg=5.0, to_mmhg=40.0, leak_mmhg_per_s=0.4,
                           leak_at_mmhg=40.0)
    assert sr.reference_of(Commissioning(), POSITIONS) == "rated"
    assert sr.reference_of(Commissioning(chambers={"left_foot": record}), POSITIONS) == "rated"
    assert sr.reference_of(Commissioning(chambers={z: record for z in POSITIONS}), POSITIONS) == "commissioned"


def test_the_session_pump_health_is_the_median_over_chambers():
    chambers = {"a": sr.ChamberEntry(fills=2, fill_ratio=0.6), "b": sr.ChamberEntry(fills=1, fill_ratio=0.9),
                "c": sr.ChamberEntry(fills=3, fill_ratio=0.92), "d": sr.ChamberEntry(leak_per_s=0.01)}
    assert sr.pump_percent_of(chambers) == 90.0  # one kinked hose (a) does not make the pump weak
    assert sr.pump_percent_of({"d": chambers["d"]}) is None


def test_the_record_keeps_the_last_50_sessions_and_survives_a_restart(tmp_path):
    record = sr.ServiceRecord(tmp_path)
    for i in range(sr.KEEP_SESSIONS + 10):
        record.add_session(entry(100.0 - i * 0.5, left_thigh=sr.ChamberEntry(fills=1, fill_ratio=1.0 - i * 0.005)))
    again = flushed(record)
    assert len(again.sessions) == sr.KEEP_SESSIONS == 50
    assert again.sessions[0].pump_percent == 95.0 and again.sessions[-1].pump_percent == 70.5
    assert again.problem is None
    on_disk = json.loads((tmp_path / sr.FILE_NAME).read_text())
    assert len(on_disk["sessions"]) == 50 and on_disk["version"] == 1


def test_the_summary_shows_the_newest_pump_against_20_sessions_before_and_the_leaks(tmp_path):
    record = sr.ServiceRecord(tmp_path)
    assert record.summary(Commissioning()) is None
    for i in range(25):
        record.add_session(entry(100.0 - i, left_thigh=sr.ChamberEntry(fills=2, fill_ratio=1.0 - i / 100)))
    record.add_session(entry(None, left_foot=sr.ChamberEntry(leak_per_s=0.02)))  # measured no fill
    leaky = ChamberRecord(fill_rate_mmhg_per_s=10.0, from_mmhg=5.0, to_mmhg=40.0, leak_mmhg_per_s=0.4,
                          leak_at_mmhg=40.0)
    summary = record.summary(Commissioning(chambers={"left_foot": leaky}))
    assert (summary.pump_percent, summary.pump_percent_before, summary.sessions_before) == (76.0, 96.0, 20)
    assert summary.sessions == 26 and summary.reference == "rated"
    assert summary.leaks["left_foot"].leak_mmhg_per_s == pytest.approx(0.8)  # 0.02/s at 40 mmHg
    assert summary.leaks["left_foot"].times_commissioned == pytest.approx(2.0)  # 0.01/s commissioned
    two = sr.ServiceRecord(tmp_path / "two")
    two.add_session(entry(90.0))
    two.add_session(entry(80.0))
    assert (two.summary(Commissioning()).pump_percent_before, two.summary(Commissioning()).sessions_before) == \
        (90.0, 1)


@pytest.mark.parametrize("content", [
    b"{not json", b"\xff\xfe", b'{"version": 1, "sessions": "many"}', b'{"version": 2, "sessions": []}',
    b'{"version": 1, "sessions": [{"ended_at": "x", "reference": "rated", "pump_percent": -5}]}',
    b'{"version": 1, "sessions": [], "extra": 1}', b"[" * 100_000, b'{"version": 1, "sessions": [' +
    b",".join([b'{"ended_at": "x", "reference": "rated"}'] * 51) + b"]}",
], ids=["syntax", "binary", "wrong-type", "version", "negative", "extra-key", "deep", "too-many"])
def test_a_damaged_file_is_reported_kept_aside_and_replaced_by_an_empty_record(tmp_path, content, caplog):
    (tmp_path / sr.FILE_NAME).write_bytes(content)
    record = sr.ServiceRecord(tmp_path)
    assert record.sessions == []
    assert record.problem is not None and "damaged" in record.problem and sr.FILE_NAME + ".bad" in record.problem
    assert (tmp_path / (sr.FILE_NAME + ".bad")).read_bytes() == content
    assert not (tmp_path / sr.FILE_NAME).exists()
    assert any("service record" in r.getMessage() for r in caplog.records)
    summary = record.summary(Commissioning())
    assert summary is not None and summary.problem == record.problem and summary.pump_percent is None
    record.add_session(entry(97.0))  # and the new record is written as usual
    assert flushed(record).sessions[0].pump_percent == 97.0


def test_a_file_too_big_is_refused_before_it_is_parsed(tmp_path):
    (tmp_path / sr.FILE_NAME).write_bytes(b" " * (sr.MAX_FILE_BYTES + 1) + b"{}")
    assert sr.ServiceRecord(tmp_path).problem is not None
