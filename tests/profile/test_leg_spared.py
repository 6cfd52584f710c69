"""A wound on one leg: that leg gets no heat, compression or rollers, whatever asks for it (the
program, a manual override), because the gate cuts it; the other leg runs its whole program."""

from __future__ import annotations

import asyncio

from controller.model.commands import Source
from controller.model.config import load_config
from controller.model.faults import Fault
from controller.model.outputs import Outputs
from controller.model.profile import Profile
from controller.safety.gate import NO_CUT, gate
from controller.safety.profile_cut import profile_cut
from controller.storage.profile_store import save_profile
from tests.machine.test_commands_on_machine import cmd, drive, send
from tests.machine.simrun import run_sim

CONFIG = load_config()
PADS, CHAMBERS, ROLLERS = CONFIG.pad_names, CONFIG.chamber_names, CONFIG.roller_names


def everything_on() -> Outputs:
    return Outputs(heater_duty=dict.fromkeys(PADS, 1.0), fill_open=dict.fromkeys(CHAMBERS, True),
                   vent_open=dict.fromkeys(CHAMBERS, False), pump_duty=1.0,
                   roller_speed=dict.fromkeys(ROLLERS, 0.8), relay_closed=True)


def test_the_gate_cuts_every_output_of_a_wounded_leg_and_only_those():
    cut = profile_cut(Profile(wound_or_infection_left=True), CONFIG)
    out = gate(everything_on(), [], PADS, CHAMBERS, ROLLERS, cut)
    for z in PADS:
        assert out.heater_duty[z] == (0.0 if z.startswith("left") else 1.0), z
    for z in CHAMBERS:
        left = z.startswith("left")
        assert out.fill_open[z] is (not left) and out.vent_open[z] is left, z
    for z in ROLLERS:
        assert out.roller_speed[z] == (0.0 if z.startswith("left") else 0.8), z
    assert out.pump_duty == 1.0  # the right leg still fills


def test_the_pump_stops_when_only_a_spared_leg_would_fill():
    wanted = everything_on().with_(fill_open={c: c.startswith("left") for c in CHAMBERS})
    out = gate(wanted, [], PADS, CHAMBERS, ROLLERS, profile_cut(Profile(wound_or_infection_left=True), CONFIG))
    assert not any(out.fill_open.values()) and out.pump_duty == 0.0


def test_numbness_cuts_only_that_legs_heat():
    cut = profile_cut(Profile(numbness_or_poor_circulation_right=True), CONFIG)
    out = gate(everything_on(), [], PADS, CHAMBERS, ROLLERS, cut)
    assert {z: d for z, d in out.heater_duty.items()} == {z: 0.0 if z.startswith("right") else 1.0 for z in PADS}
    assert all(out.fill_open.values()) and all(v == 0.8 for v in out.roller_speed.values())


def test_no_conditions_cut_nothing():
    assert profile_cut(Profile(varicose_veins=True, pregnancy=True), CONFIG) is NO_CUT
    assert gate(everything_on(), [], PADS, CHAMBERS, ROLLERS) == gate(everything_on(), [], PADS, CHAMBERS, ROLLERS,
                                                                      NO_CUT)


def test_a_wound_on_the_left_leg_leaves_every_left_output_off_while_the_right_leg_completes(tmp_path):
    """warm_up uses every output a leg has: both pads heated, the foot, calf and thigh chambers
    in waves, the foot and calf rollers; the profile was saved before the daemon started (as
    after a restart)."""
    state = tmp_path / "state"
    state.mkdir()
    save_profile(state, Profile(wound_or_infection_left=True), confirmed=True)
    out: dict = {}

    async def watch(sup):
        await asyncio.sleep(1.0)
        out["snapshot"] = sup.hub.snapshot()
        out["notes"] = list(sup.runner.session.notes)

    result, rows = run_sim(tmp_path, program="warm_up", intensity=2, state_dir=state, during=watch)
    assert any("the left leg is spared" in n and "the right leg runs" in n for n in out["notes"])
    notice = out["snapshot"].notices[-1]
    assert notice.code == "leg_spared" and notice.leg == "left"
    assert result.report["outcome"] == "completed"
    running = [r for r in rows if r["mode"] == "running"]
    assert running
    for r in running:
        for z in PADS:
            if z.startswith("left"):
                assert float(r[f"pad.{z}.duty"]) == 0.0 and r[f"pad.{z}.target_c"] in ("", "None", "nan"), r["t_s"]
        for z in CHAMBERS:
            if z.startswith("left"):
                assert r[f"chamber.{z}.fill_open"] == "0" and r[f"chamber.{z}.vent_open"] == "1", r["t_s"]
                assert float(r[f"chamber.{z}.target_mmhg"]) == 0.0
        for z in ROLLERS:
            if z.startswith("left"):
                assert float(r[f"roller.{z}.speed"]) == 0.0
    # the right leg did its waves: each of its chambers filled at some point, its pads heated
    for z in CHAMBERS:
        if z.startswith("right"):
            assert any(r[f"chamber.{z}.fill_open"] == "1" for r in running), z
    for z in PADS:
        if z.startswith("right"):
            assert any(float(r[f"pad.{z}.duty"]) > 0 for r in running), z
    for z in ROLLERS:
        if z.startswith("right"):
            assert any(abs(float(r[f"roller.{z}.speed"])) > 0 for r in running), z
    assert not any(r["faults"] for r in running)  # sparing a leg raises no fill or heating fault


def test_a_manual_override_cannot_drive_a_spared_leg(tmp_path):
    async def script(sup, out):
        await send(sup, {"command": "set_profile", "wound_or_infection_left": True})
        out["manual"] = await send(sup, {"command": "manual", "output": "heater:left_calf", "value": 1.0})
        await send(sup, {"command": "manual", "output": "roller:left_calf", "value": 1.0})
        await send(sup, {"command": "manual", "output": "heater:right_calf", "value": 0.5})
        await asyncio.sleep(1.0)
        out["outputs"] = sup.last_outputs

    out, _, _ = drive(tmp_path, script)
    assert out["manual"].ok  # taken, and still gated
    assert out["outputs"].heater_duty["left_calf"] == 0.0 and out["outputs"].roller_speed["left_calf"] == 0.0
    assert out["outputs"].heater_duty["right_calf"] == 0.5


def test_a_wound_raised_mid_session_spares_the_leg_at_once(tmp_path):
    async def script(sup, out):
        await send(sup, {"command": "start", "program": "full_leg", "intensity": 2, "preheat": False})
        await asyncio.sleep(20.0)
        out["raise"] = await send(sup, {"command": "set_profile", "wound_or_infection_right": True}, Source.MQTT)
        await asyncio.sleep(0.1)
        out["mode"] = sup.runner.mode
        out["right"] = {c: sup.compression.target_of(c) for c in CHAMBERS if c.startswith("right")}
        loop_now = asyncio.get_running_loop().time()
        out["roller_wants"] = sup.rollers.targets(loop_now)  # what the controller asks, before the gate
        out["heat_wants"] = dict(sup.heat_targets)
        out["outputs"] = sup.last_outputs

    out, _, _ = drive(tmp_path, script)
    assert out["raise"].ok and out["mode"] == "running"
    assert all(v == 0.0 for v in out["right"].values())
    # the controllers themselves want nothing there (the gate's cut is the second layer)
    assert all(v == 0.0 for z, v in out["roller_wants"].items() if z.startswith("right"))
    assert all(v != 0.0 for z, v in out["roller_wants"].items() if z.startswith("left"))
    assert all(v is None for z, v in out["heat_wants"].items() if z.startswith("right"))
    assert all(v is not None for z, v in out["heat_wants"].items() if z.startswith("left"))
    o = out["outputs"]
    assert all(not o.fill_open[c] and o.vent_open[c] for c in CHAMBERS if c.startswith("right"))
    assert all(o.heater_duty[p] == 0.0 for p in PADS if p.startswith("right"))
