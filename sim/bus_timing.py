"""How long a tick's I2C work takes on a Pi: the fake bus's transaction log turned into seconds.

An estimate from datasheet timing, not a measurement (no Pi here). Three parts:

- **Bits on the wire** at the bus clock (NXP UM10204): a START, the address byte, the register
  pointer byte, the data bytes, a STOP; a read sends the pointer, then a repeated START and the
  address again (SMBus "read block": smbus2's ``read_i2c_block_data``). Each byte is 9 clocks
  (8 bits + ACK); START, repeated START and STOP are counted as one clock each. A 16-bit
  register write is then 38 clocks, a 16-bit read 48, an 8-bit write 29; a transfer nobody
  acknowledges stops after the address (11 clocks).
- **The kernel and Python per transfer** (the ioctl, the adapter's interrupt, smbus2 and the
  driver): not in any datasheet; assumed 0.12 ms on a Pi 4 (i2c-bcm2835) and 0.08 ms on a Pi 5
  (RP1), the figures the README has always used (``HOSTS``).
- **ADS1115 conversions** (TI SBAS444 7.5, 9.3.2): a single-shot conversion takes 1/DR
  (1.16 ms at 860 SPS) on an oscillator that may run 10 % slow, so 1.1/DR. The model follows the
  driver: a config write with OS = 1 in single-shot mode starts one; the driver polls the config
  register once at once, and if the conversion is still running (the poll said busy) sleeps
  until it should be done (at least a quarter of a conversion) and polls again. A conversion
  started on an earlier tick is done (the ticks are many conversions apart). The MCP9808
  converts continuously and the INA219 averages continuously: reading either never waits.

The model is a single clock walking the log in order: transfers one after the other (one bus,
one I/O thread), waits only where the driver would sleep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sim.i2c_bus import Transfer

CLOCKS_PER_BYTE = 9  # 8 data bits + the ACK/NACK bit
START_STOP_CLOCKS = 2  # START + STOP
REPEATED_START_CLOCKS = 1

# ADS1115 registers and config fields (datasheet 9.6), restated here: sim/ never imports drivers/.
ADS_REG_CONVERSION = 0x00
ADS_REG_CONFIG = 0x01
ADS_OS = 1 << 15
ADS_MODE_SINGLE_SHOT = 1 << 8
ADS_DR_SHIFT = 5
ADS_DR_SPS = (8, 16, 32, 64, 128, 250, 475, 860)  # DR field 000..111
ADS_OSCILLATOR_MARGIN = 1.1  # the internal oscillator may run 10 % slow (datasheet 7.5)


@dataclass(frozen=True)
class Host:
    """A Pi and what one I2C transfer costs it beyond the bits (kernel + Python), assumed."""

    name: str
    overhead_s: float


PI4 = Host("Pi 4", 0.12e-3)
PI5 = Host("Pi 5", 0.08e-3)
HOSTS = (PI4, PI5)


def transfer_clocks(t: Transfer) -> int:
    """SCL clocks one transfer puts on the bus."""
    if not t.acked:
        return START_STOP_CLOCKS + CLOCKS_PER_BYTE  # the address byte, NACKed, then STOP
    if t.write:  # START, address+W, pointer, data, STOP
        return START_STOP_CLOCKS + CLOCKS_PER_BYTE * (2 + len(t.data))
    # START, address+W, pointer, repeated START, address+R, data, STOP
    return START_STOP_CLOCKS + REPEATED_START_CLOCKS + CLOCKS_PER_BYTE * (3 + len(t.data))


def ads_conversion_s(config_word: int) -> float:
    """Worst-case time of the conversion a config word starts (1.1 / DR)."""
    return ADS_OSCILLATOR_MARGIN / ADS_DR_SPS[config_word >> ADS_DR_SHIFT & 0b111]


class BusTimeModel:
    """Seconds of one tick's transfers on a Pi at a bus clock."""

    def __init__(self, clock_hz: float, host: Host, ads1115_addresses: Iterable[int]) -> None:
        if not clock_hz > 0:
            raise ValueError(f"bus clock {clock_hz!r} Hz must be > 0")
        self.clock_hz = clock_hz
        self.host = host
        self.ads1115 = frozenset(ads1115_addresses)

    def transfer_s(self, t: Transfer) -> float:
        return self.host.overhead_s + transfer_clocks(t) / self.clock_hz

    def tick_s(self, transfers: Iterable[Transfer]) -> float:
        """The time from the tick's first transfer to the end of its last, waits included."""
        now = 0.0
        ready_at: dict[int, float] = {}  # ADS1115 address -> when its running conversion is done
        conversion_s: dict[int, float] = {}
        for t in transfers:
            cost = self.transfer_s(t)
            pending = ready_at.get(t.address)
            if pending is not None and t.acked and not t.write and t.register == ADS_REG_CONFIG and now + cost < pending:
                # the driver's first poll finds the conversion running: it sleeps until it should
                # be done (at least a quarter of a conversion), then polls again (this transfer)
                now += cost
                now = max(pending, now + conversion_s[t.address] / 4)
            now += cost
            if t.address in self.ads1115 and t.acked and t.write and t.register == ADS_REG_CONFIG and len(t.data) == 2:
                word = t.data[0] << 8 | t.data[1]
                if word & ADS_OS and word & ADS_MODE_SINGLE_SHOT:
                    conversion_s[t.address] = ads_conversion_s(word)
                    ready_at[t.address] = now + conversion_s[t.address]
            elif not t.write and t.register == ADS_REG_CONVERSION:
                ready_at.pop(t.address, None)
        return now


@dataclass(frozen=True)
class TickStats:
    worst_s: float
    p99_s: float
    mean_s: float
    ticks: int


def tick_stats(tick_seconds: list[float]) -> TickStats:
    """Worst, 99th percentile (nearest rank) and mean of per-tick bus times."""
    if not tick_seconds:
        raise ValueError("no ticks")
    ordered = sorted(tick_seconds)
    rank = max(0, -(-99 * len(ordered) // 100) - 1)  # nearest-rank percentile
    return TickStats(ordered[-1], ordered[rank], sum(ordered) / len(ordered), len(ordered))


class BusTimer:
    """Times a piece of board work on the simulated bus with the model: ``time_of(fn)`` runs
    ``fn`` while recording its transfers and returns their modelled seconds (the simulator's
    answer to "time these reads with time.monotonic" on a Pi)."""

    def __init__(self, bus, model: BusTimeModel) -> None:
        self.bus = bus
        self.model = model

    def time_of(self, fn) -> float:
        kept = self.bus.take_transfers() if self.bus.log is not None else None
        self.bus.record_transfers(True)
        try:
            fn()
        finally:
            done = self.bus.take_transfers()
            self.bus.record_transfers(kept is not None)
            if kept is not None:  # someone else was recording: give their log back, with these
                self.bus.log[:0] = kept + done
        return self.model.tick_s(done)
