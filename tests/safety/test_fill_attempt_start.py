"""A fill attempt's 20 s run from the first tick it has a target above zero: a fill valve open
with the pump running toward a 0 mmHg target is not yet a fill (there is nothing to reach), so
its 20 s start when the target arrives, not when the valve opened."""

from __future__ import annotations

from tests.safety.rig import FAST_DT, LIM, SafetyRig

CH = "left_calf"


def test_the_fill_clock_starts_with_the_first_target_above_zero_not_with_the_valve():
    rig = SafetyRig()
    rig.start_fill(CH, target=0.0)
    for _ in range(3):  # the valve open toward no target for three ticks
        rig.pressure[CH] = 2.0 + FAST_DT * (rig.n % 2)
        assert "fill_failure" not in {f.code for f in rig.tick()}
    rig.pressure_targets[CH] = 80.0
    start = rig.t + FAST_DT

    def leak(r: SafetyRig) -> None:  # live, but never near half of 80
        r.pressure[CH] = 5.0 + FAST_DT * (r.n % 2)

    fault = rig.run(LIM.fill_timeout_s + 1.0, "fill_failure", leak)
    assert fault is not None and fault.t_s == start + LIM.fill_timeout_s
    assert fault.readings["elapsed_s"] == LIM.fill_timeout_s
