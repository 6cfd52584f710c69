"""Nine-clock bus recovery (UM10204 §3.1.16) on the fake bus's model: a slave holding SDA low
mid-byte lets go within nine clocks and the bus works again; one that never lets go is tried
at most once a second and its fault still latches, safe, within the stale-reading bound."""

from __future__ import annotations

import logging
import math
import subprocess

import pytest

from drivers.bus_recovery import MAX_CLOCKS, PinctrlPins, clear_bus
from sim.i2c_bus import FakeSMBus
from tests.machine.simrun import run_sim
from tests.machine.test_fault_matrix import assert_safe_for
from tests.hardware.board_rig import board_rig  # noqa: F401 - fixture

EIO = 5


class Register:
    def read(self, register, length):
        return [0x12, 0x34][:length]

    def write(self, register, data):
        pass


def stuck_bus(release_after):
    bus = FakeSMBus()
    bus.attach(0x18, Register())
    bus.set_sda_stuck_low(True, release_after_clocks=release_after)
    return bus


def no_sleep(_s):
    pass


@pytest.mark.parametrize("release_after", [1, 5, 9])
def test_a_slave_mid_byte_lets_go_within_nine_clocks_and_the_bus_works_again(release_after):
    bus = stuck_bus(release_after)
    assert bus.read_i2c_block_data(0x18, 5, 2) == [0, 0]  # SDA low: zeros, no error
    pins = bus.recovery_pins()
    result = clear_bus(pins, sleep=no_sleep)
    assert result.released and result.clocks == release_after
    assert pins.clocks == release_after + 1  # and one more for the STOP
    assert bus.read_i2c_block_data(0x18, 5, 2) == [0x12, 0x34]  # the controller has its pins back


def test_a_slave_that_never_lets_go_gets_nine_clocks_and_the_pins_go_back():
    bus = stuck_bus(None)
    result = clear_bus(bus.recovery_pins(), sleep=no_sleep)
    assert not result.released and result.clocks == MAX_CLOCKS
    assert "still held low after 9 clocks" in result.describe()
    assert bus.read_i2c_block_data(0x18, 5, 2) == [0, 0]  # still stuck, but the pins are the controller's


def test_a_free_bus_gets_no_clocks_only_a_stop():
    bus = FakeSMBus()
    result = clear_bus(bus.recovery_pins(), sleep=no_sleep)
    assert result.released and result.clocks == 0


def test_no_transfer_while_the_pins_are_gpio_and_they_go_back_even_on_an_error():
    bus = stuck_bus(3)
    pins = bus.recovery_pins()

    class Failing:
        def __getattr__(self, name):
            return getattr(pins, name)

        def scl(self, high):
            with pytest.raises(OSError) as info:  # the controller cannot drive the bus meanwhile
                bus.read_i2c_block_data(0x18, 5, 2)
            assert info.value.errno == EIO
            raise RuntimeError("pin write failed")

    with pytest.raises(RuntimeError):
        clear_bus(Failing(), sleep=no_sleep)
    assert bus.read_i2c_block_data(0x18, 5, 2) == [0, 0]  # back to the controller (still stuck)
    with pytest.raises(RuntimeError, match="controller owns them"):
        pins.scl(False)


def test_pinctrl_pins_use_open_drain_levels_and_give_the_pins_back_to_alt0():
    calls = []
    levels = iter(["0\n", "0\n", "1\n", "1\n"])

    def run(cmd, **kwargs):
        calls.append(cmd[1:])
        out = next(levels) if cmd[1] == "lev" else ""
        return subprocess.CompletedProcess(cmd, 0, out, "")

    result = clear_bus(PinctrlPins(run=run), sleep=no_sleep)
    assert result.released and result.clocks == 2
    assert calls[0] == ["set", "2,3", "ip", "pn"] and calls[-1] == ["set", "2,3", "a0"]
    assert ["set", "3", "op", "dl"] in calls and ["set", "3", "ip", "pn"] in calls
    assert ["set", "2", "op", "dl"] in calls  # the STOP drives SDA low, then releases it
    assert calls.count(["lev", "2"]) == 4


# -- on the simulated board --------------------------------------------------------------------


@pytest.fixture
def rig(board_rig):
    return board_rig


async def test_the_board_clears_a_stuck_sda_and_reads_again(rig, caplog):
    caplog.set_level(logging.WARNING)
    await rig.run(0.2, thermal_every=None)
    rig.sim.bus.set_sda_stuck_low(True, release_after_clocks=6)
    # a valve command while SDA is low: the write looks acknowledged and is lost
    rig.out = rig.out.with_(vent_open={**rig.out.vent_open, "left_foot": False})
    rig.errors.clear()
    readings = await rig.run(0.5, thermal_every=None)
    assert rig.sim.bus.recoveries == 1
    assert rig.board.last_recovery.released and rig.board.last_recovery.clocks == 6
    assert "nine-clock recovery: SDA released after 6 clocks" in caplog.text
    assert rig.errors[0] and not any(rig.errors[1:])  # one failed tick, then clean reads
    assert all(not math.isnan(p) for p in readings.pressure_mmhg.values())
    assert all(p.t_s > rig.t - 0.1 for p in readings.pads.values())
    assert not rig.sim.true_state()["vent_open"]["left_foot"]  # the lost valve write was made again


async def test_a_bus_that_stays_stuck_is_cleared_at_most_once_a_second(rig, caplog):
    caplog.set_level(logging.WARNING)
    await rig.run(0.2, thermal_every=None)
    rig.sim.bus.set_sda_stuck_low(True)
    rig.errors.clear()
    await rig.run(2.5, thermal_every=None)
    assert rig.sim.bus.recoveries == 3  # at 0, 1 and 2 s
    assert not rig.board.last_recovery.released
    assert "nine-clock recovery failed: SDA still held low after 9 clocks" in caplog.text
    assert all(rig.errors)  # every tick still fails loudly


def test_a_never_released_sda_still_faults_to_the_safe_state_within_the_bound(tmp_path):
    """The README's bound for a chip that is gone: the stale-reading time (1 s) + a pad's read
    interval + a tick (1.26 s)."""
    result, rows = run_sim(tmp_path, program="full_leg", injections=["sda_stuck_low@30"], max_runtime_s=40)
    first = result.report["faults"][0]
    assert first["code"] in {"chip_error", "temp_stale", "pressure_sensor_range"}, result.report["faults"]
    assert 30.0 <= first["t_s"] <= 30.0 + 1.26 + 1e-6
    assert result.report["outcome"] == "fault"
    row = next(r for r in rows if first["code"] in r["faults"].split("|"))
    assert abs(float(row["t_s"]) - first["t_s"]) < 1e-6
    assert_safe_for(row, first["code"])  # safe for its family on the tick that raised it
    assert_safe_for(rows[-1], first["code"])  # and to the end


async def test_a_recovery_that_cannot_run_is_logged_and_the_reads_still_fail_loudly(rig, caplog):
    """No pinctrl on the machine, a pin refused: the scan cycle goes on and the fault path stands."""
    class Broken:
        def to_gpio(self):
            raise FileNotFoundError("pinctrl")

        def to_i2c(self):
            pass

    rig.board._recovery_pins = Broken()
    caplog.set_level(logging.ERROR)
    await rig.run(0.1, thermal_every=None)
    rig.sim.bus.set_sda_stuck_low(True, release_after_clocks=3)
    rig.errors.clear()
    await rig.run(0.5, thermal_every=None)
    assert "nine-clock recovery could not run: pinctrl" in caplog.text
    assert all(rig.errors)
