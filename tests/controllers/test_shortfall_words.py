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
    ctl._fill_ended_short(chamber, 10.0)
    ctl._fill_ended_short(chamber, 20.0)  # the second short fill in a row is the warning
    (warning,) = ctl._warnings
    assert warning.code == "pressure_shortfall" and warning.message.startswith(
        "left thigh chamber reached 23 of 82 mmHg (2 fills in a row): ")
    return warning.message.split("): ", 1)[1]


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
