"""A wave step that ran its whole time with a leg short of its stated strokes is said in words
(a ``pressure_shortfall`` warning naming the leg's top chamber and the counts); a step cut by
a pause, a stop or a profile reload is not judged (the person, not the pump, cut it)."""

from __future__ import annotations

from controller.control.compression import CompressionController
from controller.control.runner import Runner
from controller.model.config import load_config
from programs.library import load_library
from programs.schema import CompressionSpec
from sim.params import load_sim_params
from sim.pneumatics import Pneumatics

CFG = load_config()
PROGRAMS, _ = load_library(None, CFG.limits)
DT_S = 0.02
#: ten strokes in 20 s cannot be made on any unit: the wave alone takes longer
TOO_MANY = CompressionSpec(pattern="wave", chambers=["foot", "calf"], pressure_mmhg={"foot": 40, "calf": 34},
                           hold_s=1.0, rest_s=2.0, strokes=10)


def drive(ctl: CompressionController, seconds: float, t0: float = 0.0):
    plant = Pneumatics(load_sim_params(), CFG.chamber_names, {c.zone: c.position for c in CFG.chambers})
    t, outs = t0, []
    for _ in range(round(seconds / DT_S)):
        out = ctl.step(dict(plant.pressure_mmhg), t)
        outs.append(out)
        plant.step(DT_S, out.pump_duty, out.fill_open, out.vent_open)
        t += DT_S
    return t, outs


def test_a_completed_wave_step_short_of_its_strokes_is_said_for_each_leg():
    ctl = CompressionController(CFG)
    ctl.set_program(TOO_MANY, 5, 0.0)
    t, _ = drive(ctl, 20.0)
    made = ctl.strokes
    ctl.set_program(None, 5, t, phase_completed=True)
    out = ctl.step({z: 0.0 for z in CFG.chamber_names}, t)
    warned = {w.zone: w for w in out.warnings}
    assert set(warned) == {"left", "right"}  # the leg's strokes: the leg is the zone
    for leg in ("left", "right"):
        w = warned[leg]
        assert w.code == "pressure_shortfall" and w.severity.value == "warning"
        assert f"{leg} leg: {made[leg]} of the 10 upward strokes" in w.message and "pump" in w.message
    assert not ctl.step({z: 0.0 for z in CFG.chamber_names}, t + DT_S).warnings  # said once


def test_a_step_that_made_its_strokes_or_was_cut_says_nothing():
    ctl = CompressionController(CFG)
    ctl.set_program(TOO_MANY, 5, 0.0)
    t, _ = drive(ctl, 20.0)
    ctl.set_program(None, 5, t)  # cut (a pause, a stop): not judged
    assert not ctl.step({z: 0.0 for z in CFG.chamber_names}, t).warnings
    enough = TOO_MANY.model_copy(update={"strokes": 1})
    ctl = CompressionController(CFG)
    ctl.set_program(enough, 5, 0.0)
    t, _ = drive(ctl, 30.0)
    assert ctl.strokes == {"left": 1, "right": 1}
    ctl.set_program(None, 5, t, phase_completed=True)
    assert not ctl.step({z: 0.0 for z in CFG.chamber_names}, t).warnings


def test_the_runner_says_a_phase_completed_only_when_it_ran_uninterrupted():
    runner = Runner(CFG, PROGRAMS)
    first = PROGRAMS["quick_circulation"].phases[0].duration_s
    assert runner.start("quick_circulation", 3, True, 0.0)[0]
    assert not runner.step(0.0).phase_completed
    assert not runner.step(first - 0.02).phase_completed
    ended = runner.step(first)
    assert ended.phase_changed and ended.phase_completed  # the strokes step ran its 100 s
    # the next step is paused once: its end is not judged
    runner.pause(first + 10.0)
    runner.resume(first + 20.0)
    second = PROGRAMS["quick_circulation"].phases[1].duration_s
    cut = runner.step(first + 10.0 + second + 0.02)
    assert cut.phase_changed and not cut.phase_completed
    # and the one after it runs whole again
    third = PROGRAMS["quick_circulation"].phases[2].duration_s
    again = runner.step(first + 10.0 + second + third + 0.04)
    assert again.phase_changed and again.phase_completed
