"""The simulator's fast paths behave exactly as the general code they short-cut."""

import math

import pytest

from sim.chips.ina219 import FakeINA219
from sim.i2c_bus import FakeSMBus
from sim.params import load_sim_params
from sim.pneumatics import Pneumatics
from sim.thermal import PadThermal


class Register:
    def __init__(self):
        self.value = [0x12, 0x34]

    def read(self, register, length):
        return list(self.value[:length])

    def write(self, register, data):
        self.value = list(data)


# -- the fake bus: which chips answer, and which fault wins ---------------------------------


def test_a_chip_attached_while_marked_missing_stays_silent_until_restored():
    bus = FakeSMBus()
    bus.set_missing(0x48)
    bus.attach(0x48, Register())
    with pytest.raises(OSError) as info:
        bus.read_i2c_block_data(0x48, 0, 2)
    assert info.value.errno == 121
    bus.set_missing(0x48, False)
    assert bus.read_i2c_block_data(0x48, 0, 2) == [0x12, 0x34]


def test_restoring_an_address_with_nothing_attached_still_nacks():
    bus = FakeSMBus()
    bus.set_missing(0x49)
    bus.set_missing(0x49, False)
    with pytest.raises(OSError) as info:
        bus.write_i2c_block_data(0x49, 0, [1])
    assert info.value.errno == 121
    assert (bus.transactions, bus.writes) == (1, 1)


def test_a_closed_bus_fails_before_a_hung_one_stalls_and_a_hang_before_a_nack():
    stalls = []
    bus = FakeSMBus()
    bus.set_missing(0x48)
    bus.set_hang(True, stall=stalls.append, stall_s=0.5)
    with pytest.raises(OSError) as info:
        bus.read_i2c_block_data(0x48, 0, 2)
    assert info.value.errno == 110 and stalls == [0.5]
    bus.close()
    bus.set_hang(False)  # closed stays closed
    with pytest.raises(OSError) as info:
        bus.read_i2c_block_data(0x48, 0, 2)
    assert info.value.errno == 9 and stalls == [0.5]
    assert bus.transactions == 2


def test_a_chip_model_returning_a_bad_byte_is_caught():
    bus = FakeSMBus()
    chip = Register()
    bus.attach(0x48, chip)
    chip.value = [0x12, 0x100]
    with pytest.raises(AssertionError, match="0x48"):
        bus.read_i2c_block_data(0x48, 0, 2)
    chip.value = [0x12]
    with pytest.raises(AssertionError, match="0x48"):
        bus.read_i2c_block_data(0x48, 0, 2)


# -- chip models ----------------------------------------------------------------------------


@pytest.mark.parametrize("amps, code", [(0.8, 8191), (-0.8, -8191), (-0.000149, -1)])
def test_ina219_current_rounds_toward_zero_for_both_signs(amps, code):
    # Shunt code round(A × 0.1 Ω / 10 µV) = ±8000 or -1, × calibration 4194 / 4096 = ±8191.4
    # or -1.02: the chip truncates toward zero (a floor would give -8192 and -2).
    chip = FakeINA219(lambda: amps, shunt_ohm=0.1)
    chip.write(0x05, [0x10, 0x62])  # calibration 4194
    high, low = chip.read(0x04, 2)
    value = high << 8 | low
    assert (value - 0x10000 if value & 0x8000 else value) == code


# -- physics --------------------------------------------------------------------------------


def test_a_pad_gives_the_same_bits_whether_its_step_factors_are_cached_or_fresh():
    params = load_sim_params().pads
    cached = PadThermal(params, 22.0)
    fresh = PadThermal(params, 22.0)
    dts = [0.02, 0.01999999999998181, 0.02, 0.013, 0.02, 1.1e-12]
    for k in range(300):
        dt = dts[k % len(dts)]
        fresh._factors_by_dt.clear()  # forces the factors to be worked out again
        fresh._cached_dt_s = -1.0
        cached.step(dt, 0.7)
        fresh.step(dt, 0.7)
    assert (cached.element_c, cached.surface_c, cached.thermistor_c, cached.digital_c) == (
        fresh.element_c, fresh.surface_c, fresh.thermistor_c, fresh.digital_c)


def test_a_chamber_off_the_manifold_decays_exactly_and_zero_stays_zero():
    params = load_sim_params()
    names = ["left_calf", "right_calf"]
    pn = Pneumatics(params, names, {n: "calf" for n in names})
    pn.pressure_mmhg["left_calf"] = 80.0
    chamber = params.chambers["calf"]
    g = chamber.leak_conductance + chamber.vent_valve_conductance
    # The general update with no inflow: 0 + (p − 0)·exp(−dt·g/C).
    expected = 0.0 + (80.0 - 0.0) * math.exp(-0.02 * g / chamber.effective_compliance_l_per_mmhg)
    pn.step(0.02, 1.0, {}, {})
    assert pn.pressure_mmhg == {"left_calf": expected, "right_calf": 0.0}
