"""Records at the slowest scan rate a config may set (5 Hz, a 200 ms period): the late-tick limit
is three periods, 600 ms, and the message says the lateness and the limit in whole
milliseconds; and a monitor built with the pads' commissioning holds each pad to it from the
first tick (the supervisor builds it so at start)."""

from __future__ import annotations

import pytest

from controller.model.config import load_config
from controller.model.limits import PadCommissioning, heating_check
from controller.model.readings import Readings
from controller.safety.context import SafetyContext
from controller.safety.machine_checks import MachineChecks
from controller.safety.monitor import SafetyMonitor
from tests.safety.rig import CFG, LIM, THERMAL_DT, SafetyRig

SLOW = load_config().model_copy(update={"rates": CFG.rates.model_copy(update={"fast_hz": 5.0})})


def no_readings(t_s: float) -> Readings:
    return Readings(t_s=t_s, pads={}, pressure_mmhg={}, pressure_t_s={}, roller_current_a={},
                    estop_tripped=False, thermal_fresh=True, errors=())


def test_at_5_hz_a_tick_2_s_late_is_reported_against_a_600_ms_limit():
    checks = MachineChecks(SLOW)
    assert checks.check(no_readings(0.0), SafetyContext(tick_late_s=0.6), 9.0) == []  # exactly 3 periods
    (fault,) = checks.check(no_readings(0.0), SafetyContext(tick_late_s=2.0), 9.0)
    assert fault.message == "control loop ran 2000 ms late (limit 600 ms, 3 periods): blocked I/O?"
    assert fault.readings == {"late_s": 2.0, "limit_s": pytest.approx(0.6)}


def test_a_monitor_built_with_commissioning_holds_the_pad_to_it_from_the_start():
    record = PadCommissioning(rise_c=4.1, window_s=60.0)
    monitor = SafetyMonitor(CFG, {"left_calf": record})
    assert monitor.heaters.heating["left_calf"] == heating_check(LIM, record)
    assert monitor.heaters.heating["right_calf"] == heating_check(LIM, None)

    rig = SafetyRig(CFG, dt_s=THERMAL_DT)
    rig.monitor = monitor
    rig.heat_targets["left_calf"] = 40.0
    rig.duty["left_calf"] = 1.0

    def warm(r: SafetyRig) -> None:  # 1.3 °C a minute: under half of 4.1 °C in 60 s
        v = 25.0 + 1.3 / 60.0 * r.t
        r.temps["left_calf"] = (v, v)

    armed = rig.t + THERMAL_DT
    fault = rig.run(120.0, "heater_no_gain", warm)
    assert fault is not None and fault.t_s == armed + 60.0
