"""A new commissioning reaches a running monitor (``SafetyMonitor.set_commissioning``, what
``legctl commission`` does with the machine idle): from then on the commissioned pad is held to
half its commissioned rise in its commissioned window; the other pads keep their own check, and
a record for a pad this machine does not have changes nothing."""

from __future__ import annotations

import pytest

from controller.model.limits import PadCommissioning, heating_check
from tests.safety.rig import CFG, LIM, THERMAL_DT, SafetyRig

PAD, OTHER = "left_calf", "right_foot"
DT = THERMAL_DT


def warming(pad: str, rate_c_per_s: float):
    def warm(r: SafetyRig) -> None:
        v = 25.0 + rate_c_per_s * r.t
        r.temps[pad] = (v, v)
    return warm


def test_a_pad_commissioned_while_running_is_held_to_its_new_window():
    rig = SafetyRig(CFG, dt_s=DT)
    rig.monitor.set_commissioning({PAD: PadCommissioning(rise_c=4.1, window_s=60.0), "no_such_pad": PadCommissioning(
        rise_c=9.0, window_s=10.0)})
    assert rig.monitor.heaters.heating[PAD] == heating_check(LIM, PadCommissioning(rise_c=4.1, window_s=60.0))
    assert set(rig.monitor.heaters.heating) == set(CFG.pad_names)  # no check for a pad not fitted
    assert rig.monitor.heaters.heating[OTHER] == heating_check(LIM, None)

    rig.heat_targets[PAD] = 40.0
    rig.duty[PAD] = 1.0
    armed = rig.t + DT
    # 1.3 °C a minute: enough for the uncommissioned 1 °C in 100 s, under half of 4.1 °C in 60 s
    fault = rig.run(120.0, "heater_no_gain", warming(PAD, 1.3 / 60.0))
    assert fault is not None and fault.zone == PAD
    assert fault.t_s == armed + 60.0
    assert fault.readings["window_s"] == 60.0 and fault.readings["gain_c"] == pytest.approx(2.05)


def test_the_pads_left_out_of_a_new_commissioning_keep_the_uncommissioned_check():
    rig = SafetyRig(CFG, dt_s=DT)
    rig.monitor.set_commissioning({PAD: PadCommissioning(rise_c=4.1, window_s=60.0)})
    rig.heat_targets[OTHER] = 40.0
    rig.duty[OTHER] = 1.0
    assert rig.run(300.0, "heater_no_gain", warming(OTHER, 1.3 / 60.0)) is None
