"""The controllers' per-tick shortcuts keep what the tick publishes exactly right.

Compression keeps each chamber's target worked out between program and intensity changes;
the rollers skip the ramp while at rest. Both must look, from outside, as if nothing was kept.
"""

import math

from controller.model.config import load_config
from controller.control.rollers import RollerController
from tests.controllers.test_compression import ALTERNATE, PULSE, SQUEEZE, WAVE, Rig
from tests.controllers.test_rollers import GLIDE, KNEAD, drive

CONFIG = load_config()
RAMP = CONFIG.roller_control.ramp_per_s
DT_S = 0.02


def test_the_published_targets_follow_program_and_intensity_changes_at_once():
    """Every tick, a chamber's published target is 0 or target_of(chamber), which itself follows
    each new program and intensity from the tick it is set; an open fill always has its target."""
    rig = Rig()
    changes = [(0.0, WAVE, 5), (7.0, None, 2), (15.0, PULSE, 3), (25.0, None, 4), (33.0, "off", 4),
               (36.0, SQUEEZE, 1), (44.0, ALTERNATE, 5)]
    for (start, spec, intensity), (end, *_) in zip(changes, changes[1:] + [(60.0, None, None)]):
        if spec is None:
            rig.ctl.set_intensity(intensity)
        else:
            rig.ctl.set_program(None if spec == "off" else spec, intensity, rig.t)
        first = len(rig.ticks)
        rig.run(end - start)
        for tick in rig.ticks[first:]:
            for z, target in tick.target.items():
                assert target in (0.0, rig.ctl.target_of(z))
                if tick.fill[z]:
                    assert target == rig.ctl.target_of(z) > 0.0


def test_a_stopped_roller_rests_at_exactly_zero_and_starts_softly_again():
    ctl = RollerController(CONFIG)
    ctl.set_program(KNEAD, 5, 0.0)
    drive(ctl, 2.5)
    ctl.stop()
    rest = drive(ctl, 2.0, 2.5)
    for _, speeds in rest[-50:]:  # at rest: 0.0 exactly (not -0.0: a trace would show "-0.000")
        assert all(v == 0.0 and math.copysign(1.0, v) == 1.0 for v in speeds.values())
    ctl.set_program(GLIDE, 5, 4.5)
    again = drive(ctl, 1.0, 4.5)
    glide = [r.zone for r in CONFIG.rollers if r.position in GLIDE.positions]
    assert all(0.0 < again[0][1][z] <= RAMP * DT_S + 1e-9 for z in glide)  # up the ramp from rest
