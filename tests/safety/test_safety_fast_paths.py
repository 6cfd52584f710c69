"""The per-tick shortcuts give the same answers as the long way round.

Between thermal ticks the board hands the monitor the very same pad reading objects, and the
plausibility check only re-checks their age then. Fed equal but new objects every tick, the
monitor takes the long way: both must raise the same faults on the same ticks. And the gate's
clamp gives what ``min(high, max(low, v))`` gives, to the bit.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.model.config import load_config
from controller.safety.gate import gate
from controller.model.outputs import Outputs
from controller.model.readings import PadReading, Readings
from controller.safety.monitor import SafetyContext, SafetyMonitor

CFG = load_config()
PADS, CHAMBERS, ROLLERS = CFG.pad_names, CFG.chamber_names, CFG.roller_names
DT = 1 / 64  # a fast tick, exact in binary
THERMAL_EVERY = 12


def _script(n: int, t: float) -> tuple[float, float] | None:
    """Pad temperatures read on thermal tick ``n`` (None: the pad is not read, its reading ages)."""
    if 300 <= n < 420:
        return None  # left calf unread for ~1.9 s: stale
    if 500 <= n < 700:
        return 36.0, 40.5  # sensors 4.5 °C apart for ~3 s: disagree
    if 800 <= n < 830:
        return 36.0, math.inf  # shorted digital sensor: out of range
    if 900 <= n < 960:
        return math.nan, 36.0  # thermistor not answering
    return 36.0 + 0.001 * n, 36.2 + 0.001 * n


def _run(fresh_objects: bool) -> list[list[tuple]]:
    monitor = SafetyMonitor(CFG)
    out = Outputs.safe(PADS, CHAMBERS, ROLLERS).with_(relay_closed=True)
    ctx = SafetyContext(heat_targets_c={p: None for p in PADS})
    pads = {p: PadReading(36.0, 36.2, 0.0) for p in PADS}
    seen = []
    for n in range(1200):
        t = n * DT
        thermal = n % THERMAL_EVERY == 0
        if thermal:
            for p in PADS:
                temps = _script(n, t) if p == "left_calf" else (36.0, 36.2)
                if temps is not None:
                    pads[p] = PadReading(*temps, t)
        shown = {p: PadReading(r.temp_c, r.temp2_c, r.t_s) for p, r in pads.items()} if fresh_objects else dict(pads)
        readings = Readings(t, shown, {c: 0.0 for c in CHAMBERS}, {c: t for c in CHAMBERS},
                            {r: 0.0 for r in ROLLERS}, False, thermal)
        faults = monitor.check(readings, out, t, ctx)
        seen.append([(f.code, f.zone, f.t_s, f.message) for f in faults])
    return seen


def test_a_reading_seen_again_gives_the_same_faults_on_the_same_ticks_as_a_new_one():
    same, fresh = _run(fresh_objects=False), _run(fresh_objects=True)
    assert same == fresh
    codes = {code for tick in same for code, *_ in tick}
    # the scenario exercises each heat-plausibility fault
    assert {"temp_stale", "temp_sensor_disagree", "temp_sensor_range"} <= codes


anything = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1.0, -1.0]))


@settings(max_examples=500)
@given(anything, anything, anything)
def test_the_gate_clamps_exactly_as_min_max_does_signed_zeros_included(duty, speed, pump):
    wanted = Outputs({p: duty for p in PADS}, {c: c == CHAMBERS[0] for c in CHAMBERS},
                     {c: c != CHAMBERS[0] for c in CHAMBERS}, pump, {r: speed for r in ROLLERS}, True)
    out = gate(wanted, [], PADS, CHAMBERS, ROLLERS)

    def clamp(v, lo, hi):
        return 0.0 if math.isnan(v) else min(hi, max(lo, v))

    assert all(repr(d) == repr(clamp(duty, 0.0, 1.0)) for d in out.heater_duty.values())
    assert all(repr(s) == repr(clamp(speed, -1.0, 1.0)) for s in out.roller_speed.values())
    assert repr(out.pump_duty) == repr(clamp(pump, 0.0, 1.0))
