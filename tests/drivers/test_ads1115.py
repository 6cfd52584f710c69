"""ADS1115: the right channel, gain and data rate go out; codes become volts per the datasheet."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ads1115 import ADS1115
from drivers.errors import BusError, ConversionTimeout
from drivers.i2c import I2CBus
from sim.chips.ads1115 import FakeADS1115
from sim.i2c_bus import FakeSMBus

DETERMINISTIC = settings(derandomize=True, database=None, max_examples=200, deadline=None)


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, s):
        self.sleeps.append(s)
        self.now += s


def make_adc(volts, **kwargs):
    smbus = FakeSMBus(1)
    chip = FakeADS1115(volts)
    smbus.attach(0x48, chip)
    clock = FakeClock()
    adc = ADS1115(I2CBus(smbus, 1), 0x48, sleep=clock.sleep, monotonic=clock.monotonic, **kwargs)
    return adc, chip, smbus, clock


def test_config_word_is_single_shot_single_ended_with_comparator_off():
    adc, chip, _, _ = make_adc(lambda ch: 1.0)
    adc.read_voltage(2)
    # OS=1, MUX=110 (AIN2-GND), PGA=001 (4.096 V), MODE=1, DR=111 (860 SPS), COMP_QUE=11
    assert chip.last_config == 0b1_110_001_1_111_0_0_0_11


@pytest.mark.parametrize("channel", [0, 1, 2, 3])
def test_each_channel_reads_its_own_input(channel):
    adc, _, _, _ = make_adc(lambda ch: 0.5 * (ch + 1))
    assert adc.read_voltage(channel) == pytest.approx(0.5 * (channel + 1), abs=0.000125)


@pytest.mark.parametrize(
    "fs_v, volts, code",
    [
        (4.096, 1.0, 8000),  # 125 µV per code
        (2.048, 1.0, 16000),
        (6.144, 3.0, 16000),
        (0.256, 0.1, 12800),
        (4.096, -0.002, -16),  # a little below GND reads negative, not wrapped
        (2.048, 3.3, 0x7FFF),  # above full scale: the rail
        (4.096, 4.096, 0x7FFF),
    ],
)
def test_codes_and_volts_at_several_gains(fs_v, volts, code):
    adc, _, _, _ = make_adc(lambda ch: volts, fs_v=fs_v)
    assert adc.read_raw(0) == code
    assert adc.read_voltage(0) == pytest.approx(code * fs_v / 32768)


@DETERMINISTIC
@given(v=st.floats(min_value=0.0, max_value=4.0))
def test_voltage_within_half_a_code(v):
    adc, _, _, _ = make_adc(lambda ch: v)
    assert abs(adc.read_voltage(1) - v) <= 0.5 * 4.096 / 32768 + 1e-12


def test_an_instant_conversion_costs_no_sleep():
    adc, _, smbus, clock = make_adc(lambda ch: 1.0)
    adc.read_voltage(0)
    assert clock.sleeps == []
    assert smbus.transactions == 3  # write config, poll once, read conversion


def test_conversion_never_ready_times_out_on_the_injected_clock():
    adc, chip, _, clock = make_adc(lambda ch: 1.0, timeout_s=0.05)
    chip.set_stuck(True)
    with pytest.raises(ConversionTimeout) as info:
        adc.read_voltage(3)
    assert "ADS1115 at 0x48" in str(info.value)
    assert clock.now - 100.0 == pytest.approx(0.05)
    assert clock.sleeps[0] == pytest.approx(1.1 / 860)  # first wait: one conversion time
    chip.set_stuck(False)
    assert adc.read_voltage(3) == pytest.approx(1.0, abs=0.000125)


def test_missing_adc_is_a_bus_error_naming_it():
    adc, _, smbus, _ = make_adc(lambda ch: 1.0)
    smbus.set_missing(0x48, True)
    with pytest.raises(BusError, match="ADS1115 at 0x48 on i2c-1"):
        adc.read_voltage(0)


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"fs_v": 5.0}, "5.0"),
        ({"data_rate_sps": 100}, "100"),
        ({"data_rate_sps": 8}, "timeout_s"),  # 8 SPS cannot finish within 50 ms
    ],
)
def test_bad_settings_are_refused(kwargs, text):
    with pytest.raises(ValueError, match=text):
        make_adc(lambda ch: 0.0, **kwargs)


@pytest.mark.parametrize("channel", [-1, 4, 1.0, True])
def test_bad_channels_are_refused(channel):
    adc, _, smbus, _ = make_adc(lambda ch: 0.0)
    with pytest.raises(ValueError, match=repr(channel)):
        adc.read_voltage(channel)
    assert smbus.transactions == 0


def test_fake_power_on_registers_match_the_datasheet():
    smbus = FakeSMBus(1)
    smbus.attach(0x48, FakeADS1115(lambda ch: 0.0))
    bus = I2CBus(smbus, 1)
    assert [bus.read_u16_be("ADS1115", 0x48, r) for r in range(4)] == [0, 0x8583, 0x8000, 0x7FFF]


def test_fake_differential_mux_measures_the_difference():
    chip = FakeADS1115(lambda ch: {0: 1.5, 1: 0.5, 2: 0.0, 3: 0.25}[ch])
    chip.write(0x01, [0b1_000_010_1, 0b100_00011])  # AIN0-AIN1, ±2.048 V, single-shot
    assert chip.read(0x00, 2) == [0x3E, 0x80]  # 1.0 V -> 16000


def test_start_then_finish_reads_the_started_channel():
    adc, chip, _, _ = make_adc(lambda ch: 0.5 * (ch + 1))
    adc.start(2)
    assert chip.last_config >> 12 & 0b111 == 0b110  # AIN2 against GND
    assert adc.finish_voltage() == pytest.approx(1.5, abs=0.000125)


def test_finish_without_start_is_a_programming_error():
    adc, _, _, _ = make_adc(lambda ch: 1.0)
    with pytest.raises(RuntimeError, match="without a start"):
        adc.finish_voltage()
    adc.start(0)
    adc.finish_voltage()
    with pytest.raises(RuntimeError):  # one result per start
        adc.finish_voltage()


def test_a_conversion_replaced_by_another_inputs_is_refused_not_misread():
    adc, _, smbus, _ = make_adc(lambda ch: 0.5 * (ch + 1))
    adc.start(1)
    other = ADS1115(I2CBus(smbus, 1), 0x48)  # another user of the same chip starts AIN3
    other.start(3)
    with pytest.raises(BusError, match="AIN1 was replaced"):
        adc.finish_voltage()


def test_finish_waits_for_a_slow_conversion_and_times_out_on_a_stuck_one():
    adc, chip, _, clock = make_adc(lambda ch: 1.0)
    chip.set_stuck(True)
    adc.start(0)
    with pytest.raises(ConversionTimeout):
        adc.finish_voltage()
    assert clock.sleeps, "it polled and slept before giving up"


def test_finish_sleeps_only_what_is_left_of_the_conversion():
    adc, chip, _, clock = make_adc(lambda ch: 1.0)
    conversion_s = 1.1 / 860
    chip.set_stuck(True)
    adc.start(0)
    clock.now += 0.0005  # the other chips' starts took half a millisecond
    chip.set_stuck(False)
    chip._regs[1] &= ~(1 << 15)  # still converting at the first poll
    real_read = chip.read

    def read(register, length):  # done once the conversion time is over
        if register == 1 and clock.now >= 100.0 + conversion_s:
            chip._regs[1] |= 1 << 15
        return real_read(register, length)

    chip.read = read
    adc.finish_voltage()
    assert clock.sleeps[0] == pytest.approx(conversion_s - 0.0005)


class SlowADS1115(FakeADS1115):
    """Reports "converting" (OS = 0) for the first `busy_polls` polls after each start."""

    def __init__(self, volts, busy_polls):
        super().__init__(volts)
        self.busy_polls = busy_polls
        self._left = 0

    def write(self, register, data):
        super().write(register, data)
        if register == 0x01:
            self._left = self.busy_polls

    def read(self, register, length):
        data = super().read(register, length)
        if register == 0x01 and self._left:
            self._left -= 1
            data[0] &= 0x7F
        return data


@pytest.mark.parametrize("busy_polls, sleeps", [(0, 0), (1, 1), (3, 3)])
def test_a_slow_conversion_polls_then_sleeps_until_ready(busy_polls, sleeps):
    smbus = FakeSMBus()
    smbus.attach(0x48, SlowADS1115(lambda ch: 1.0, busy_polls))
    clock = FakeClock()
    adc = ADS1115(I2CBus(smbus, 1), 0x48, sleep=clock.sleep, monotonic=clock.monotonic)
    assert adc.read_voltage(0) == pytest.approx(1.0, abs=0.000125)
    assert len(clock.sleeps) == sleeps
    assert smbus.transactions == 3 + busy_polls  # config, a poll per sleep plus one, result
    if busy_polls:
        assert clock.sleeps[0] == pytest.approx(1.1 / 860)
        assert clock.sleeps[1:] == [pytest.approx(1.1 / 860 / 4)] * (sleeps - 1)
