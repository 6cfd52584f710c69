"""The commissioning record on disk: kept whole, read back the same, and a bad file means
"not commissioned" (the safe, looser checks) with a warning, never a crash or a wild value."""

from __future__ import annotations

import json
import logging

import pytest

from controller.storage.commissioning import (ChamberRecord, Commissioning, PadRecord, load_commissioning,
                                              save_commissioning)

PADS = ["left_calf", "left_foot"]
CHAMBERS = ["left_foot"]
PAD = PadRecord(duty=1.0, start_c=22.0, rate_c_per_s=0.17, dead_time_s=9.3, window_s=37.0, rise_c=4.3,
                duration_s=140.0)
CHAMBER = ChamberRecord(fill_rate_mmhg_per_s=9.5, from_mmhg=5.1, to_mmhg=40.2, leak_mmhg_per_s=0.31,
                        leak_at_mmhg=38.0)


def test_a_saved_record_reads_back_the_same_and_gives_the_heating_checks(tmp_path):
    record = Commissioning(measured_at="2025-01-01T00:00:00+00:00", pads={"left_calf": PAD},
                           chambers={"left_foot": CHAMBER})
    save_commissioning(tmp_path, record)
    assert load_commissioning(tmp_path, PADS, CHAMBERS) == record
    check = record.heating()["left_calf"]
    assert (check.rise_c, check.window_s) == (4.3, 37.0)


def test_no_file_is_not_commissioned(tmp_path):
    assert load_commissioning(tmp_path, PADS, CHAMBERS) == Commissioning()


@pytest.mark.parametrize("mutate", [
    lambda d: d["pads"]["left_calf"].update(rise_c=-1.0),  # a rise that is no rise
    lambda d: d["pads"]["left_calf"].update(window_s=600.0),  # past the check's 180 s outer bound
    lambda d: d["pads"]["left_calf"].update(rate_c_per_s="fast"),
    lambda d: d["pads"]["left_calf"].pop("dead_time_s"),
    lambda d: d["pads"].update(nowhere=d["pads"]["left_calf"]),  # not a pad of this machine
    lambda d: d.update(version=2),
])
def test_a_bad_record_is_refused_whole_with_a_warning(tmp_path, caplog, mutate):
    save_commissioning(tmp_path, Commissioning(pads={"left_calf": PAD}, chambers={"left_foot": CHAMBER}))
    path = tmp_path / "commissioning.json"
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="legtherapy.commissioning"):
        assert load_commissioning(tmp_path, PADS, CHAMBERS) == Commissioning()
    assert "refused" in caplog.text and "commission again" in caplog.text


def test_garbage_is_refused_too(tmp_path):
    (tmp_path / "commissioning.json").write_text("{not json")
    assert load_commissioning(tmp_path, PADS, CHAMBERS) == Commissioning()
