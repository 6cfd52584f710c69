"""The ``pressure_shortfall`` warning's words use the service record's measured pump flow: a
weak pump is named, a healthy one points at the sleeve instead."""

from __future__ import annotations

import pytest

from controller.control.compression import CompressionController
from controller.model.config import load_config
from controller.model.faults import pump_weak_below


def shortfall(measured) -> str:
    ctl = CompressionController(load_config())
    ctl.pump_measured = measured
    chamber = ctl._chambers["left_thigh"]
    chamber.target, chamber.fill_peak = 82.0, 23.0
    ctl._fill_ended_short(chamber, 10.0)  # the first short fill of the session is the warning
    ctl._fill_ended_short(chamber, 20.0)  # and only the first
    (warning,) = ctl._warnings
    assert warning.code == "pressure_shortfall" and warning.message.startswith(
        "left thigh chamber reached 23 of 82 mmHg: ")
    return warning.message.split("mmHg: ", 1)[1]


def test_unmeasured_the_words_are_as_before():
    assert shortfall(None) == ("the pump is weak or the sleeve leaks: service the pump and check the sleeve "
                               "and its hoses")


@pytest.mark.parametrize("percent,reference", [(49.4, "rated"), (74.4, "commissioned")])
def test_a_pump_measured_below_its_threshold_is_named(percent, reference):
    assert percent < pump_weak_below(reference)
    assert shortfall((percent, reference)) == (
        f"the pump delivers {percent:.0f} % of its {reference} flow, or the sleeve leaks: service the pump and "
        "check the sleeve and its hoses")


@pytest.mark.parametrize("percent,reference", [(50.0, "rated"), (75.0, "commissioned"), (99.2, "rated")])
def test_a_pump_measured_healthy_points_at_the_sleeve(percent, reference):
    assert shortfall((percent, reference)) == (
        f"the pump delivers {percent:.0f} % of its {reference} flow, so the sleeve or its hoses leak: "
        "check the sleeve and its hoses")


def test_the_first_short_fill_of_a_session_warns_once():
    """A whole wave more than 3 mmHg short is said at once (not after a second one)."""
    ctl = CompressionController(load_config())
    chamber = ctl._chambers["left_calf"]
    chamber.target, chamber.fill_peak = 91.0, 46.0
    ctl._fill_ended_short(chamber, 10.0)
    (warning,) = ctl._warnings
    assert warning.message.startswith("left calf chamber reached 46 of 91 mmHg: ")
    assert warning.readings["short_fills"] == 1
    chamber.fill_peak = 47.0
    ctl._fill_ended_short(chamber, 20.0)
    assert len(ctl._warnings) == 1 and chamber.short_fills == 2


def test_a_new_session_warns_again():
    ctl = CompressionController(load_config())
    chamber = ctl._chambers["left_calf"]
    chamber.target, chamber.fill_peak = 91.0, 46.0
    ctl._fill_ended_short(chamber, 10.0)
    ctl.new_session()
    ctl._fill_ended_short(chamber, 20.0)
    assert len(ctl._warnings) == 2


def test_a_fill_within_3_mmhg_is_not_short():
    ctl = CompressionController(load_config())
    chamber = ctl._chambers["left_calf"]
    chamber.target, chamber.fill_peak = 91.0, 88.0  # exactly 3 mmHg short: within the band
    ctl._fill_ended_short(chamber, 10.0)
    assert ctl._warnings == [] and chamber.short_fills == 0
    chamber.fill_peak = 87.9
    ctl._fill_ended_short(chamber, 20.0)
    assert len(ctl._warnings) == 1
