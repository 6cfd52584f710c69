"""Pi issue 3 and 4: the bus fails loudly. Every way a Pi's adapter reports a hung bus stops a
tick's reads at the first hang; a chip holding SDA low cannot pass as 0.0 °C; an expander
reset is found within a second and latched; the roller current is averaged over the PWM."""

import math

import pytest

from controller.machine.board import build_board, make_simulator
from controller.model.config import load_config
from controller.model.readings import ErrorZone
from drivers.errors import StuckBusReading
from drivers.i2c import I2CBus
from drivers.ina219 import CONFIG, POWER_ON_CONFIG, REG_CONFIG
from drivers.mcp9808 import MCP9808
from sim.chips.mcp9808 import FakeMCP9808
from sim.i2c_bus import HANGS, FakeSMBus
from tests.hardware.board_rig import board_rig  # noqa: F401 - fixture


@pytest.fixture
def rig(board_rig):
    return board_rig


@pytest.mark.parametrize("kind", sorted(HANGS))
async def test_every_hang_errno_stops_the_ticks_reads_at_the_first_transfer(rig, kind):
    code, timeout_s = HANGS[kind]
    await rig.run(0.1)
    stalls = []
    rig.sim.bus.set_hang_kind(kind, stall=stalls.append)
    before = rig.sim.bus.transactions
    readings = await rig.board.read(rig.t, thermal=True)
    assert rig.sim.bus.transactions - before == 1  # one transfer waited; the rest were skipped
    assert stalls == [timeout_s]  # one timeout of bus time lost, not one per chip
    assert all(f"errno {code}" in e.text for e in readings.errors)
    assert {e.zone.family for e in readings.errors} >= {"chamber", "pad", "roller"}


async def test_a_chip_holding_sda_low_reads_as_a_failure_not_as_zero_degrees(rig):
    await rig.run(0.3)
    rig.sim.inject_now("sda_stuck_low")
    readings = await rig.run(0.5)
    pads = readings.pads["left_foot"]
    assert math.isnan(readings.pressure_mmhg["left_foot"])
    assert any(e.zone == ErrorZone("pad", "left_foot") for errs in rig.errors[-25:] for e in errs)
    assert not any(value == 0.0 for p in readings.pads.values() for value in (p.temp_c, p.temp2_c))
    assert pads.t_s < rig.t - 0.3  # the last good reading ages: it turns stale


@pytest.mark.parametrize("raw", [0x0000, 0xFFFF])
def test_an_mcp9808_reading_all_zeros_or_all_ones_is_refused(raw):
    smbus = FakeSMBus(1)
    chip = FakeMCP9808(lambda: 30.0)
    smbus.attach(0x18, chip)
    sensor = MCP9808(I2CBus(smbus, 1), 0x18)
    assert sensor.read_temp_c() == pytest.approx(30.0)
    chip.read = lambda register, length: [raw >> 8, raw & 0xFF]
    with pytest.raises(StuckBusReading, match="all (zeros|ones)"):
        sensor.read_temp_c()


async def test_the_expander_iocon_is_written_at_start():
    cfg = load_config()
    sim = make_simulator(cfg, lambda: 0.0)
    sim.expander.write(0x0A, [0x20])  # left by an earlier run: SEQOP set
    board = build_board(cfg, sim=sim)
    try:
        assert sim.expander.read(0x0A, 1) == [0x00]
    finally:
        board.close()


async def test_an_expander_reset_is_found_within_a_second_and_held_as_a_fault(rig):
    rig.out = rig.out.with_(fill_open={**rig.out.fill_open, "left_foot": True},
                            vent_open={**rig.out.vent_open, "left_foot": False}, pump_duty=0.5)
    await rig.run(1.2)
    assert rig.sim.true_state()["fill_open"]["left_foot"]
    rig.errors.clear()
    rig.sim.inject_now("expander_reset")
    rig.t += 0.001
    assert not rig.sim.true_state()["fill_open"]["left_foot"]  # the valves went limp
    await rig.run(3.5)
    failing = [i for i, errs in enumerate(rig.errors) if any(e.zone == ErrorZone("machine", "expander") for e in errs)]
    assert failing and failing[0] <= 50  # found within a second
    run = failing[-1] - failing[0] + 1
    assert run == len(failing) and run * 0.02 > rig.cfg.limits.stale_reading_s  # long enough to latch chip_error
    assert rig.sim.expander.iodir == rig.board.expander._iodir  # configured again
    assert rig.sim.true_state()["fill_open"]["left_foot"]  # and written again once the hold ended


async def test_the_relay_stays_open_while_a_reset_expander_is_held(rig):
    await rig.run(0.5)
    rig.sim.inject_now("expander_reset")
    await rig.run(1.5)
    assert not rig.board.relay.is_closed


async def test_roller_current_is_averaged_over_the_motor_pwm(rig):
    """One 532 µs sample against 1 kHz PWM reads anywhere from 0 to the peak; 32 averaged
    samples (17 PWM cycles) read the mean within a few percent."""
    rig.out = rig.out.with_(roller_speed={**rig.out.roller_speed, "left_calf": 0.5})
    await rig.run(1.5)

    async def spread():
        values = [(await rig.run(0.02)).roller_current_a["left_calf"] for _ in range(50)]
        mean = sum(values) / len(values)
        return (max(values) - min(values)) / mean

    assert await spread() < 0.15
    rig.board.i2c.write_u16_be("INA219", 0x41, REG_CONFIG, POWER_ON_CONFIG)  # single samples
    assert await spread() > 0.8
    assert CONFIG != POWER_ON_CONFIG
