"""INA219 current monitor (TI SBOS448): roller motor current for stall and jam detection.

The roller motors run on 1 kHz PWM, so the shunt current is a square wave between ~0 and the
peak. One 12-bit sample (532 µs) catches either half, and readings would jump between 0 and
peak from tick to tick: the stall trip could be missed or fire falsely. The shunt ADC therefore
averages 32 samples (17.02 ms, datasheet table 5): 17 PWM cycles in each reading, within one
20 ms tick, so a reading is the mean current within ~1/17 of the peak.
"""

from __future__ import annotations

from .i2c import I2CBus

CHIP = "INA219"

# Register pointers (datasheet 8.6).
REG_CONFIG = 0x00
REG_SHUNT_VOLTAGE = 0x01
REG_BUS_VOLTAGE = 0x02
REG_POWER = 0x03
REG_CURRENT = 0x04
REG_CALIBRATION = 0x05

# Configuration register fields (datasheet 8.6.2.1).
CONFIG_RESET = 1 << 15
CONFIG_BRNG_32V = 1 << 13  # bus voltage range 32 V
CONFIG_PG_DIV8_320MV = 0b11 << 11  # shunt range ±320 mV
CONFIG_BADC_12BIT = 0b0011 << 7  # bus ADC 12 bit, 532 µs
CONFIG_SADC_12BIT = 0b0011 << 3  # shunt ADC 12 bit, 532 µs
CONFIG_SADC_AVG32 = 0b1101 << 3  # shunt ADC 12 bit, mean of 32 samples: 17.02 ms
SHUNT_AVERAGING_SAMPLES = 32
SHUNT_CONVERSION_S = 17.02e-3
CONFIG_MODE_SHUNT_BUS_CONTINUOUS = 0b111
POWER_ON_CONFIG = 0x399F  # 12-bit single samples: what the chip holds after a reset
CONFIG = (
    CONFIG_BRNG_32V
    | CONFIG_PG_DIV8_320MV
    | CONFIG_BADC_12BIT
    | CONFIG_SADC_AVG32
    | CONFIG_MODE_SHUNT_BUS_CONTINUOUS
)  # 0x39EF
#: an idle roller's zero-current readings between calibration checks (~1 s at 50 Hz): it reads
#: 0 every tick, and checking each time cost four transfers a tick
CALIBRATION_CHECK_EVERY = 50

SHUNT_LSB_V = 10e-6
BUS_LSB_V = 4e-3
BUS_DATA_SHIFT = 3  # bits 15..3; bit 1 CNVR, bit 0 OVF
CALIBRATION_SCALE = 0.04096  # datasheet equation 1: an internal fixed value
CALIBRATION_MASK = 0xFFFE  # bit 0 is void and always reads 0


def _signed16(raw: int) -> int:
    return raw - 0x10000 if raw & 0x8000 else raw


def calibration_for(shunt_ohm: float, current_lsb_a: float) -> int:
    """Datasheet 8.5.1 equation 1: Cal = trunc(0.04096 / (Current_LSB × R_SHUNT))."""
    exact = CALIBRATION_SCALE / (current_lsb_a * shunt_ohm)
    # Round away float noise first (0.04096 / (0.001 × 0.002) is 20479.999... in binary).
    cal = int(round(exact, 6))
    if cal > 0xFFFF or cal & CALIBRATION_MASK == 0:
        raise ValueError(
            f"INA219 calibration {exact:.1f} for shunt {shunt_ohm} ohm and current LSB "
            f"{current_lsb_a} A does not fit the 16-bit register"
        )
    return cal & CALIBRATION_MASK


class INA219:
    def __init__(
        self,
        bus: I2CBus,
        address: int,
        *,
        shunt_ohm: float = 0.1,
        max_expected_a: float = 3.2,
    ) -> None:
        if not shunt_ohm > 0 or not max_expected_a > 0:
            raise ValueError(
                f"INA219 needs shunt_ohm > 0 and max_expected_a > 0, "
                f"got {shunt_ohm!r}, {max_expected_a!r}"
            )
        self._bus = bus
        self.address = address
        self.shunt_ohm = shunt_ohm
        # Datasheet equation 2: the smallest LSB that still spans the expected current.
        self.current_lsb_a = max_expected_a / 32768
        self.calibration = calibration_for(shunt_ohm, self.current_lsb_a)
        self._zeros_since_check = CALIBRATION_CHECK_EVERY  # check at the first zero

    def configure(self) -> None:
        self._bus.write_u16_be(CHIP, self.address, REG_CONFIG, CONFIG)
        self._bus.write_u16_be(CHIP, self.address, REG_CALIBRATION, self.calibration)

    def read_current_a(self, *, running: bool = True) -> float:
        """Amps through the shunt. ``running``: the motor is driven, so a zero reading is
        suspect at once; an idle motor's zeros are checked once in CALIBRATION_CHECK_EVERY."""
        raw = _signed16(self._bus.read_u16_be(CHIP, self.address, REG_CURRENT))
        if raw == 0:
            # A brown-out resets the chip, calibration becomes 0 and the current register then
            # reads 0 whatever flows: a jammed motor would look idle. Only a zero reading can
            # mean that, so only then is the calibration checked, and at most once in
            # CALIBRATION_CHECK_EVERY zero readings (an idle roller reads 0 every tick).
            self._zeros_since_check += 1
            if not running and self._zeros_since_check < CALIBRATION_CHECK_EVERY:
                return 0.0
            self._zeros_since_check = 0
            if self._bus.read_u16_be(CHIP, self.address, REG_CALIBRATION) == 0:
                self.configure()
                # The current register picks the calibration up only at the end of the next
                # conversion (~1 ms), so this one reading comes from the shunt voltage.
                return self.read_shunt_voltage_v() / self.shunt_ohm
        return raw * self.current_lsb_a

    def read_bus_voltage_v(self) -> float:
        raw = self._bus.read_u16_be(CHIP, self.address, REG_BUS_VOLTAGE)
        return (raw >> BUS_DATA_SHIFT) * BUS_LSB_V

    def read_shunt_voltage_v(self) -> float:
        raw = self._bus.read_u16_be(CHIP, self.address, REG_SHUNT_VOLTAGE)
        return _signed16(raw) * SHUNT_LSB_V
