"""``legctl commission`` on the running (simulated) machine: it measures every chamber and pad,
keeps the record and the gains in the state directory, and the heating checks use the record
at once and after a restart. A part that cannot be measured refuses the whole, saying why."""

from __future__ import annotations

import json
from pathlib import Path

from controller.app.daemon import RunOptions, run_fast
from controller.control.heat_gains import gains_from_response
from controller.model.commands import Source, parse_command
from controller.model.config import load_config
from controller.storage.commissioning import load_commissioning
from controller.storage.gains import load_gains
from sim.params import load_sim_params, shipped_plants

CFG = load_config()


async def send(sup, payload):
    return await sup.hub.submit(parse_command(payload, Source.SOCKET), Source.SOCKET, timeout=None)


def run(state_dir: Path, script, *, plant: str | None = None, injections=(), max_runtime_s: float = 3000.0):
    out: dict = {}

    async def during(sup):
        try:
            await script(sup, out)
        finally:
            sup.stop()

    params = load_sim_params(shipped_plants()[plant]) if plant else None
    run_fast(RunOptions(config=CFG, state_dir=str(state_dir), sim=True, mqtt=False, socket_path=None, panel=False,
                        max_runtime_s=max_runtime_s, sim_params_override=params, injections=list(injections)),
             during)
    return out


async def commission(sup, out):
    out["result"] = await send(sup, {"command": "commission"})
    out["checks"] = dict(sup.safety.heaters.heating)
    out["gains"] = {p: sup.heat.gains(p) for p in CFG.pad_names}


def test_commissioning_measures_every_zone_and_keeps_it_beside_the_gains(tmp_path):
    state = tmp_path / "state"
    out = run(state, commission)
    result = out["result"]
    assert result.ok, result.error
    record = load_commissioning(state, CFG.pad_names, CFG.chamber_names)
    assert set(record.pads) == set(CFG.pad_names) and set(record.chambers) == set(CFG.chamber_names)
    saved = load_gains(state, CFG.pad_names, (0.0, 0.0, 0.0))
    for pad, rec in record.pads.items():
        # the default pad: ~0.17 °C/s at full power after ~9 s of lag (sensor 4 s, element 15 s)
        assert 0.1 < rec.rate_c_per_s < 0.3 and 4.0 < rec.dead_time_s < 20.0, rec
        assert saved[pad] == gains_from_response(rec.rate_c_per_s, rec.dead_time_s, rec.duty)
        assert out["gains"][pad] == saved[pad]  # in use at once, not only after a restart
        check = out["checks"][pad]
        assert check.commissioned_rise_c == rec.rise_c and check.window_s == rec.window_s
    fill = {z: r.fill_rate_mmhg_per_s for z, r in record.chambers.items()}
    # the pump fills the small foot chamber fastest and the thigh slowest
    assert fill["left_foot"] > fill["left_calf"] > fill["left_thigh"] > 0.0
    assert all(r.leak_mmhg_per_s > 0.0 for r in record.chambers.values())
    assert set(result.data["pads"]) == set(CFG.pad_names) and "kp" in result.data["pads"]["left_calf"]


def test_after_a_restart_the_heating_checks_come_from_the_record(tmp_path):
    state = tmp_path / "state"
    run(state, commission)
    record = load_commissioning(state, CFG.pad_names, CFG.chamber_names)

    async def look(sup, out):
        out["checks"] = dict(sup.safety.heaters.heating)

    out = run(state, look, max_runtime_s=1.0)
    for pad, rec in record.pads.items():
        assert out["checks"][pad].commissioned_rise_c == rec.rise_c
        assert out["checks"][pad].window_s == rec.window_s


def test_a_broken_element_refuses_the_commissioning_and_keeps_the_old_record(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "commissioning.json").write_text(json.dumps({"version": 1, "measured_at": None, "pads": {},
                                                          "chambers": {}}))
    out = run(state, commission, injections=["heater_open:left_calf@0"])
    assert not out["result"].ok
    assert "left_calf" in out["result"].error and "element open or weak" in out["result"].error and "1800 s" not in out["result"].error
    assert "nothing saved" in out["result"].error
    assert json.loads((state / "commissioning.json").read_text())["pads"] == {}
    assert not (state / "pid_gains.json").exists()


def test_the_heavy_pad_unit_is_measured_as_slow_and_gets_a_longer_check_window(tmp_path):
    state = tmp_path / "state"
    assert run(state, commission, plant="heavy_pad")["result"].ok
    heavy = load_commissioning(state, CFG.pad_names, CFG.chamber_names).pads["left_calf"]
    state2 = tmp_path / "state2"
    run(state2, commission)
    default = load_commissioning(state2, CFG.pad_names, CFG.chamber_names).pads["left_calf"]
    assert heavy.rate_c_per_s < default.rate_c_per_s / 2.0
    assert heavy.window_s > default.window_s
