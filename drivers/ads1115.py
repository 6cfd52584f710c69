"""ADS1115 16-bit ADC (TI SBAS444): single-shot reads of one single-ended input.

Single-shot rather than continuous mode so each reading is of the channel we just selected:
in continuous mode a MUX change only shows after a conversion finishes, and a stale channel's
value would silently land in another zone's reading.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable

from .errors import BusError, ConversionTimeout
from .i2c import I2CBus

CHIP = "ADS1115"

# Address pointer register values (datasheet 9.6.1).
REG_CONVERSION = 0x00
REG_CONFIG = 0x01
REG_LO_THRESH = 0x02
REG_HI_THRESH = 0x03

# Config register fields (datasheet 9.6.3).
CONFIG_OS = 1 << 15  # write 1: start a single conversion; reads 1 when not converting
CONFIG_MUX_SHIFT = 12
CONFIG_MUX_MASK = 0b111 << CONFIG_MUX_SHIFT
MUX_SINGLE_ENDED_AIN0 = 0b100  # 100..111: AIN0..AIN3 against GND
CONFIG_PGA_SHIFT = 9
CONFIG_MODE_SINGLE_SHOT = 1 << 8
CONFIG_DR_SHIFT = 5
CONFIG_COMP_QUE_DISABLE = 0b11  # comparator off, ALERT/RDY high-Z

# Full-scale range (volts) -> PGA field. FS is the code 0x7FFF point, not the input limit.
PGA_CODES = {6.144: 0b000, 4.096: 0b001, 2.048: 0b010, 1.024: 0b011, 0.512: 0b100, 0.256: 0b101}
# Samples per second -> DR field.
DR_CODES = {
    8: 0b000, 16: 0b001, 32: 0b010, 64: 0b011, 128: 0b100, 250: 0b101, 475: 0b110, 860: 0b111
}

# The internal oscillator may run 10 % slow (datasheet 7.5), so a conversion may take 1.1/DR.
_OSC_MARGIN = 1.1
_FULL_SCALE_CODE = 32768


def _pga_code(fs_v: float) -> int:
    for fs, code in PGA_CODES.items():
        if math.isclose(fs, fs_v, rel_tol=1e-9):
            return code
    raise ValueError(f"ADS1115 full scale fs_v={fs_v!r} V is not one of {sorted(PGA_CODES)}")


class ADS1115:
    def __init__(
        self,
        bus: I2CBus,
        address: int,
        *,
        fs_v: float = 4.096,
        data_rate_sps: int = 860,
        timeout_s: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        pga = _pga_code(fs_v)
        if data_rate_sps not in DR_CODES:
            raise ValueError(
                f"ADS1115 data_rate_sps={data_rate_sps!r} is not one of {sorted(DR_CODES)}"
            )
        self._conversion_s = _OSC_MARGIN / data_rate_sps
        if not timeout_s >= self._conversion_s:
            raise ValueError(
                f"ADS1115 timeout_s={timeout_s!r} is shorter than one conversion at "
                f"{data_rate_sps} SPS ({self._conversion_s:.4f} s)"
            )
        self._bus = bus
        self.address = address
        self.fs_v = fs_v
        self.data_rate_sps = data_rate_sps
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._monotonic = monotonic
        self._config_base = (
            CONFIG_OS
            | pga << CONFIG_PGA_SHIFT
            | CONFIG_MODE_SINGLE_SHOT
            | DR_CODES[data_rate_sps] << CONFIG_DR_SHIFT
            | CONFIG_COMP_QUE_DISABLE
        )
        # The config word that starts a conversion of AIN<channel>, by channel.
        self._channel_config = tuple(
            self._config_base | (MUX_SINGLE_ENDED_AIN0 + channel) << CONFIG_MUX_SHIFT
            for channel in range(4)
        )
        # The config-write / poll / read sequence must not interleave with another thread's
        # conversion on the same chip, or one channel's result would be read as another's.
        self._lock = threading.Lock()
        self._started: int | None = None  # config word of the conversion start() began
        self._started_at = 0.0  # and when (monotonic s)

    def _config_for(self, channel: int) -> int:
        if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel <= 3:
            raise ValueError(f"ADS1115 channel {channel!r} is not 0..3")
        return self._channel_config[channel]

    def read_raw(self, channel: int) -> int:
        """Signed conversion code of AINx against GND (-32768..32767)."""
        config = self._config_for(channel)
        with self._lock:
            self._bus.write_u16_be(CHIP, self.address, REG_CONFIG, config)
            _config, code = self._collect(None)
        return code

    def start(self, channel: int) -> None:
        """Start a single-shot conversion of AINx and return at once; ``finish_voltage()``
        waits for it. The board starts one on every ADS1115 and then collects them, so the
        chips convert side by side: a conversion (1.28 ms at 860 SPS, oscillator margin
        included) costs more than the I2C transactions around it."""
        config = self._config_for(channel)
        with self._lock:
            self._started = None
            self._bus.write_u16_be(CHIP, self.address, REG_CONFIG, config)
            self._started = config
            self._started_at = self._monotonic()

    def finish_voltage(self) -> float:
        """The volts of the conversion ``start()`` began, once the chip says it is done."""
        with self._lock:
            started, self._started = self._started, None
            if started is None:
                raise RuntimeError("ADS1115.finish_voltage() without a start()")
            config, code = self._collect(self._started_at)
            if (config ^ started) & CONFIG_MUX_MASK:
                # Someone else started a conversion on this chip in between: this result is
                # of another input, and must not land in this channel's reading.
                raise BusError(CHIP, self.address, self._bus.bus_number, None,
                               f"conversion of AIN{(started >> CONFIG_MUX_SHIFT & 0b111) - MUX_SINGLE_ENDED_AIN0}"
                               " was replaced by another input's")
        return code * self.fs_v / _FULL_SCALE_CODE

    def _collect(self, started_at: float | None) -> tuple[int, int]:
        """Wait for the conversion in progress; return (config register, signed code).

        Polls once before reading the clock or sleeping: an instant (simulated) chip is ready
        at the first poll and then costs no wall time and no clock reads. A busy chip is given
        what is left of the conversion time since ``started_at`` (the other chips were started
        meanwhile), or a whole conversion time if that is not known."""
        config = self._bus.read_u16_be(CHIP, self.address, REG_CONFIG)
        if not config & CONFIG_OS:
            first_sleep_s = None
            if started_at is not None:
                remaining_s = started_at + self._conversion_s - self._monotonic()
                first_sleep_s = max(remaining_s, self._conversion_s / 4)
            config = self._wait_for_conversion(first_sleep_s)
        code = self._bus.read_u16_be(CHIP, self.address, REG_CONVERSION)
        return config, (code - 0x10000 if code & 0x8000 else code)

    def read_voltage(self, channel: int) -> float:
        return self.read_raw(channel) * self.fs_v / _FULL_SCALE_CODE

    def _wait_for_conversion(self, first_sleep_s: float | None = None) -> int:
        """The first poll said busy: sleep (a whole conversion time unless told less) and poll
        until the OS bit says done (returning the config register then), or time out."""
        deadline = self._monotonic() + self.timeout_s
        interval = self._conversion_s if first_sleep_s is None else first_sleep_s
        while True:
            now = self._monotonic()
            if now >= deadline:
                raise ConversionTimeout(
                    CHIP,
                    self.address,
                    self._bus.bus_number,
                    None,
                    f"conversion not ready after {self.timeout_s * 1000:.0f} ms",
                )
            self._sleep(min(interval, deadline - now))
            # After the first full conversion time, poll more finely for the tail.
            interval = self._conversion_s / 4
            config = self._bus.read_u16_be(CHIP, self.address, REG_CONFIG)
            if config & CONFIG_OS:
                return config
