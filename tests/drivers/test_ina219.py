"""INA219: calibration per datasheet 8.5.1, amps from the current register, brown-out recovery."""

import pytest

from drivers.errors import BusError
from drivers.i2c import I2CBus
from drivers.ina219 import CALIBRATION_CHECK_EVERY, CONFIG, INA219, calibration_for
from sim.chips.ina219 import FakeINA219
from sim.i2c_bus import FakeSMBus


class Plant:
    def __init__(self, current_a=0.0, bus_v=12.0):
        self.current_a = current_a
        self.bus_v = bus_v


def make_monitor(plant, shunt_ohm=0.1, **kwargs):
    smbus = FakeSMBus(1)
    chip = FakeINA219(lambda: plant.current_a, lambda: plant.bus_v, shunt_ohm=shunt_ohm)
    smbus.attach(0x40, chip)
    bus = I2CBus(smbus, 1)
    monitor = INA219(bus, 0x40, shunt_ohm=shunt_ohm, **kwargs)
    return monitor, chip, smbus, bus


def test_config_word_is_32v_320mv_shunt_averaged_over_17_pwm_cycles_continuous():
    """32 samples of 532 µs: 17 ms, 17 cycles of the 1 kHz motor PWM, inside one 20 ms tick."""
    assert CONFIG == 0x39EF
    assert CONFIG >> 3 & 0b1111 == 0b1101  # SADC: 12 bit, 32-sample average (datasheet table 5)


def test_datasheet_calibration_example():
    # SBOS448 Table 7: R_SHUNT 2 mΩ, Current_LSB 1 mA -> calibration 20480 (0x5000).
    assert calibration_for(0.002, 0.001) == 20480
    monitor = INA219(None, 0x40, shunt_ohm=0.002, max_expected_a=32.768)
    assert monitor.current_lsb_a == pytest.approx(0.001)
    assert monitor.calibration == 20480


def test_default_board_calibration():
    # 0.1 Ω, 3.2 A: Current_LSB = 3.2 / 32768 = 97.66 µA, trunc(0.04096 / 9.766e-6) = 4194.
    assert INA219(None, 0x40).calibration == 4194


def test_datasheet_worked_example_registers():
    # Table 7: 10 A, 12 V common mode, 2 mΩ: shunt 2000, bus 11.98 V, current 10000, power 5990.
    plant = Plant(current_a=10.0, bus_v=11.98)
    monitor, _, _, bus = make_monitor(plant, shunt_ohm=0.002, max_expected_a=32.768)
    monitor.configure()
    assert bus.read_u16_be("INA219", 0x40, 0x05) == 0x5000
    assert bus.read_u16_be("INA219", 0x40, 0x01) == 0x07D0
    assert bus.read_u16_be("INA219", 0x40, 0x02) >> 3 == 0x0BB3
    assert bus.read_u16_be("INA219", 0x40, 0x04) == 0x2710
    assert bus.read_u16_be("INA219", 0x40, 0x03) == 0x1766
    assert monitor.read_current_a() == pytest.approx(10.0)
    assert monitor.read_shunt_voltage_v() == pytest.approx(0.020)
    assert monitor.read_bus_voltage_v() == pytest.approx(11.98)


@pytest.mark.parametrize("amps", [0.5, 1.25, 2.9, -0.8])
def test_motor_current_in_amps(amps):
    monitor, _, _, _ = make_monitor(Plant(current_a=amps))
    monitor.configure()
    # One current LSB (98 µA) plus the calibration's truncation (4194.304 -> 4194, 0.007 %).
    assert monitor.read_current_a() == pytest.approx(amps, abs=1e-4 + abs(amps) * 1e-4)
    assert monitor.read_shunt_voltage_v() == pytest.approx(amps * 0.1, abs=1e-5)


def test_shunt_voltage_saturates_at_the_pga_range():
    monitor, _, _, _ = make_monitor(Plant(current_a=10.0))  # 1 V across 0.1 Ω: way past 320 mV
    monitor.configure()
    assert monitor.read_shunt_voltage_v() == pytest.approx(0.32)


def test_brown_out_is_noticed_and_repaired_without_losing_the_reading():
    plant = Plant(current_a=1.5)
    monitor, chip, _, _ = make_monitor(plant)
    monitor.configure()
    chip.reset()  # brown-out: calibration 0, the current register reads 0 whatever flows
    assert chip.calibration == 0
    assert monitor.read_current_a() == pytest.approx(1.5, abs=2e-4)
    assert chip.calibration == monitor.calibration
    assert monitor.read_current_a() == pytest.approx(1.5, abs=2e-4)


def test_an_idle_motor_reads_zero_and_checks_its_calibration_once_a_second():
    monitor, _, smbus, _ = make_monitor(Plant(current_a=0.0))
    monitor.configure()
    before = smbus.transactions
    assert monitor.read_current_a(running=False) == 0.0
    assert smbus.transactions - before == 2  # current, then calibration to rule out a reset
    before = smbus.transactions
    for _ in range(CALIBRATION_CHECK_EVERY - 1):
        assert monitor.read_current_a(running=False) == 0.0
    assert smbus.transactions - before == CALIBRATION_CHECK_EVERY - 1  # one read a tick
    monitor.read_current_a(running=False)
    assert smbus.transactions - before == CALIBRATION_CHECK_EVERY + 1  # then the check again


def test_a_driven_motor_reading_zero_checks_its_calibration_at_once():
    monitor, chip, smbus, _ = make_monitor(Plant(current_a=0.0))
    monitor.configure()
    monitor.read_current_a(running=False)
    chip.reset()  # brown-out: calibration 0, the current register reads 0 whatever flows
    before = smbus.transactions
    monitor.read_current_a(running=True)
    assert smbus.transactions - before > 2  # checked and re-configured on this very reading
    assert chip.calibration == monitor.calibration


def test_a_running_motor_costs_one_read():
    monitor, _, smbus, _ = make_monitor(Plant(current_a=1.0))
    monitor.configure()
    before = smbus.transactions
    monitor.read_current_a()
    assert smbus.transactions - before == 1


def test_software_reset_bit_restores_power_on_registers():
    monitor, chip, _, bus = make_monitor(Plant(current_a=1.0))
    monitor.configure()
    bus.write_u16_be("INA219", 0x40, 0x00, 0x8000)
    assert (chip.config, chip.calibration) == (0x399F, 0)


def test_impossible_calibration_is_refused():
    with pytest.raises(ValueError, match="calibration"):
        INA219(None, 0x40, shunt_ohm=0.1, max_expected_a=0.01)  # needs cal > 65535
    with pytest.raises(ValueError):
        INA219(None, 0x40, shunt_ohm=0.0)


def test_missing_monitor_is_a_bus_error():
    monitor, _, smbus, _ = make_monitor(Plant())
    smbus.set_missing(0x40, True)
    with pytest.raises(BusError, match="INA219 at 0x40"):
        monitor.read_current_a()


@pytest.mark.parametrize("amps, code", [(0.8, 8191), (-0.8, -8191), (-0.000149, -1)])
def test_ina219_current_rounds_toward_zero_for_both_signs(amps, code):
    # Shunt code round(A × 0.1 Ω / 10 µV) = ±8000 or -1, × calibration 4194 / 4096 = ±8191.4
    # or -1.02: the chip truncates toward zero (a floor would give -8192 and -2).
    chip = FakeINA219(lambda: amps, shunt_ohm=0.1)
    chip.write(0x05, [0x10, 0x62])  # calibration 4194
    high, low = chip.read(0x04, 2)
    value = high << 8 | low
    assert (value - 0x10000 if value & 0x8000 else value) == code
