"""The real drivers on the simulated board: outputs move the physics, faults change what the
drivers read the way the real fault would."""

import math

import pytest

from controller.machine.board import build_board, make_simulator
from controller.model.config import load_config
from controller.model.readings import ErrorZone
from tests.hardware.board_rig import BoardRig, board_rig  # noqa: F401 - fixture


@pytest.fixture
def rig(board_rig):
    return board_rig


async def test_pad_heats_at_full_duty_and_both_sensors_follow(rig):
    start = (await rig.run(1.0)).pads["left_calf"]
    rig.set(heater_duty={"left_calf": 1.0})
    end = (await rig.run(120.0)).pads["left_calf"]
    assert end.temp_c > start.temp_c + 5
    assert end.temp2_c > start.temp2_c + 3
    other = rig.readings.pads["right_calf"]  # unheated: only warmed by the limb
    assert end.temp_c > other.temp_c + 5


async def test_chamber_fills_and_vents(rig):
    rig.set(fill_open={"left_foot": True}, vent_open={"left_foot": False}, pump_duty=1.0)
    r = await rig.run(3.0)
    assert r.pressure_mmhg["left_foot"] > 30
    assert r.pressure_mmhg["left_calf"] < 2
    rig.set(fill_open={"left_foot": False}, vent_open={"left_foot": True}, pump_duty=0.0)
    r = await rig.run(3.0)
    assert r.pressure_mmhg["left_foot"] < 5


async def test_roller_spins_and_draws_current(rig):
    rig.set(roller_speed={"left_calf": 0.8})
    r = await rig.run(1.0)
    assert 0.2 < r.roller_current_a["left_calf"] < rig.cfg.limits.roller_current_limit_a
    assert rig.sim.rollers["left_calf"].speed > 0.3


async def test_power_drops_when_the_heartbeat_stops(rig):
    rig.set(fill_open={"left_foot": True}, vent_open={"left_foot": False}, pump_duty=1.0)
    await rig.run(1.0)
    assert rig.sim.true_state()["powered"]
    rig.heartbeat = False
    await rig.run(0.18)
    assert rig.sim.true_state()["powered"]  # the timer has not run out yet (200 ms)
    await rig.run(0.06)
    state = rig.sim.true_state()
    assert not state["powered"]
    assert state["vent_open"]["left_foot"] and not state["fill_open"]["left_foot"]  # unpowered valves vent


async def test_relay_open_cuts_power(rig):
    rig.set(relay_closed=False, heater_duty={"left_foot": 1.0})
    await rig.run(0.5)
    assert not rig.sim.true_state()["powered"]


async def test_temp_sensor_open_reads_the_rail(rig):
    rig.sim.inject_now("temp_sensor_open", "left_calf")
    r = await rig.run(0.3)
    assert r.pads["left_calf"].temp_c == -math.inf  # divider at the supply rail
    assert math.isfinite(r.pads["left_calf"].temp2_c)


async def test_temp_sensor_short_reads_zero_volts(rig):
    rig.sim.inject_now("temp_sensor_short", "right_foot")
    r = await rig.run(0.3)
    assert r.pads["right_foot"].temp_c == math.inf


async def test_temp_sensor_drift_reads_ever_lower(rig):
    rig.sim.inject_now("temp_sensor_drift", "left_foot")
    r = await rig.run(60.0)
    pad = r.pads["left_foot"]
    assert pad.temp2_c - pad.temp_c > 2.0


async def test_heater_open_gives_no_heat(rig):
    rig.sim.inject_now("heater_open", "left_calf")
    rig.set(heater_duty={"left_calf": 1.0})
    await rig.run(60.0)
    # heats no more than the unheated pad beside it (the limb warms both a little)
    assert rig.sim.pads["left_calf"].surface_c <= rig.sim.pads["right_calf"].surface_c + 0.1


async def test_heater_stuck_on_heats_at_zero_duty_until_the_relay_opens(rig):
    rig.sim.inject_now("heater_stuck_on", "left_calf")
    before = rig.sim.pads["left_calf"].surface_c
    await rig.run(60.0)
    hot = rig.sim.pads["left_calf"].surface_c
    assert hot > before + 3
    rig.set(relay_closed=False)
    await rig.run(0.1)  # the write that opens the relay
    element_at_open = rig.sim.pads["left_calf"].element_c
    await rig.run(60.0)
    # no power through the stuck switch once the relay is open: the element only cools
    assert rig.sim.pads["left_calf"].element_c < element_at_open - 1.0
    assert rig.sim.pads["left_calf"].surface_c < hot + 1.5  # only the stored heat soaks out


async def test_chip_missing_is_a_driver_error_naming_the_chip(rig):
    rig.sim.inject_now("chip_missing", "left_calf")  # the pad's MCP9808 at 0x19
    await rig.run(0.3)
    assert any(e.zone == ErrorZone("pad", "left_calf") and "MCP9808" in e.text and "0x19" in e.text
               for errs in rig.errors for e in errs), rig.errors


async def test_a_chip_missing_at_start_up_is_reported_with_the_first_readings():
    cfg = load_config()
    sim = make_simulator(cfg, lambda: 1000.0)
    sim.inject_now("chip_missing", "right_foot")  # the pad's MCP9808, which the board probes at start-up
    board = build_board(cfg, sim=sim)
    try:
        pad = ErrorZone("pad", "right_foot")
        first = await board.read(1000.0, thermal=True)
        assert [("MCP9808" in e.text and "0x1a" in e.text) for e in first.errors if e.zone == pad] == [True, True]
        second = await board.read(1000.02, thermal=True)  # the start-up error is reported once
        assert len([e for e in second.errors if e.zone == pad]) == 1
    finally:
        board.close()


async def test_missing_pressure_adc(rig):
    rig.sim.inject_now("chip_missing", "adc_left")
    r = await rig.run(0.1)
    assert math.isnan(r.pressure_mmhg["left_foot"])
    assert any(e.zone == ErrorZone("chamber", "left_foot") and "ADS1115" in e.text and "0x49" in e.text
               for e in r.errors)


async def test_bus_hang_times_out_and_costs_time(rig):
    rig.sim.inject_now("bus_hang")
    r = await rig.board.read(rig.t, thermal=False)
    assert any("timeout" in e.text for e in r.errors)
    assert rig.sim.pending_stall_s == 0.0  # the board waited it out


async def test_fill_valve_stuck_open_lets_air_in(rig):
    rig.sim.inject_now("fill_valve_stuck_open", "left_calf")
    rig.set(fill_open={"left_foot": True}, vent_open={"left_foot": False, "left_calf": False}, pump_duty=1.0)
    r = await rig.run(3.0)
    assert r.pressure_mmhg["left_calf"] > 10


async def test_vent_valve_stuck_closed_keeps_pressure(rig):
    rig.set(fill_open={"right_thigh": True}, vent_open={"right_thigh": False}, pump_duty=1.0)
    await rig.run(5.0)
    rig.sim.inject_now("vent_valve_stuck_closed", "right_thigh")
    rig.set(fill_open={"right_thigh": False}, vent_open={"right_thigh": True}, pump_duty=0.0)
    held = (await rig.run(0.1)).pressure_mmhg["right_thigh"]
    r = await rig.run(5.0)
    assert r.pressure_mmhg["right_thigh"] > held - 6  # only the small seep


async def test_leak_loses_pressure_fast(rig):
    rig.set(fill_open={"left_foot": True}, vent_open={"left_foot": False}, pump_duty=1.0)
    await rig.run(3.0)
    rig.set(fill_open={"left_foot": False}, pump_duty=0.0)
    p0 = (await rig.run(0.1)).pressure_mmhg["left_foot"]
    rig.sim.inject_now("leak", "left_foot")
    r = await rig.run(3.0)
    assert r.pressure_mmhg["left_foot"] < p0 * 0.5


async def test_pump_dead_fills_nothing(rig):
    rig.sim.inject_now("pump_dead")
    rig.set(fill_open={"left_foot": True}, vent_open={"left_foot": False}, pump_duty=1.0)
    r = await rig.run(3.0)
    assert r.pressure_mmhg["left_foot"] < 2


async def test_pressure_sensor_frozen_reads_a_constant(rig):
    rig.sim.inject_now("pressure_sensor_frozen", "left_foot")
    rig.set(fill_open={"left_foot": True}, vent_open={"left_foot": False}, pump_duty=1.0)
    r = await rig.run(3.0)
    assert r.pressure_mmhg["left_foot"] < 2
    assert rig.sim.true_state()["pressure_mmhg"]["left_foot"] > 30


async def test_roller_stall_draws_stall_current(rig):
    rig.sim.inject_now("roller_stall", "left_foot")
    rig.set(roller_speed={"left_foot": 1.0})
    r = await rig.run(1.0)
    assert r.roller_current_a["left_foot"] > 1.5


async def test_estop_opens_the_normally_closed_circuit(rig):
    r = await rig.run(0.1)
    assert not r.estop_tripped
    rig.sim.inject_now("estop")
    r = await rig.run(0.05)
    assert r.estop_tripped
    rig.sim.release_estop()
    r = await rig.run(0.05)
    assert not r.estop_tripped


async def test_injection_at_a_time(rig):
    rig.sim.inject("estop@2.5")
    r = await rig.run(2.0)
    assert not r.estop_tripped
    r = await rig.run(1.0)
    assert r.estop_tripped


def test_bad_injection_names_the_problem():
    cfg = load_config()
    sim = make_simulator(cfg, lambda: 0.0)
    with pytest.raises(ValueError, match="unknown fault 'meltdown'"):
        sim.inject("meltdown@3")
    with pytest.raises(ValueError, match="not one"):
        sim.inject("heater_open:left_thigh@1")
    with pytest.raises(ValueError, match="not a number"):
        sim.inject("estop@soon")


@pytest.mark.parametrize("thermal, rounds", [(False, 3), (True, 4)])
def test_the_adcs_convert_side_by_side(thermal, rounds):
    """Each round starts a conversion on every ADS1115 with an input due before collecting any:
    the chips convert in parallel (on the Pi, conversions take longer than the transactions).
    Every tick reads one pad's thermistor in rotation beside the pressures (a tick told to read
    the thermal sensors reads all four)."""
    rig = BoardRig()
    log = []
    smbus = rig.board.i2c._smbus

    class Recorder:
        def __getattr__(self, name):
            def call(addr, reg, *args, **kwargs):
                log.append((name, addr, reg))
                return getattr(smbus, name)(addr, reg, *args, **kwargs)
            return call

    rig.board.i2c._smbus = Recorder()
    rig.board._read_sync(thermal)
    adcs = {a.address for a in rig.cfg.board.adcs.values()}
    steps = [("start" if op.startswith("write") else "collect", addr) for op, addr, reg in log
             if addr in adcs and (op.startswith("write") and reg == 1 or op.startswith("read") and reg == 0)]
    assert sum(kind == "start" for kind, _ in steps) == 6 + (4 if thermal else 1)
    runs = [kind for i, (kind, _) in enumerate(steps) if i == 0 or steps[i - 1][0] != kind]
    assert runs.count("start") == rounds
    first_starts = [addr for kind, addr in steps[:steps.index(next(s for s in steps if s[0] == "collect"))]]
    assert len(first_starts) == 3 and len(set(first_starts)) == len(first_starts)
