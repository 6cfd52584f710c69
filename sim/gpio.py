"""The Pi's header pins as the controller meets them through gpiozero on lgpio.

gpiozero's mock pins, changed where a real Pi (BCM2711 / RP1, kernel GPIO character device,
lgpio, gpiozero's LGPIOPin) behaves differently, because the safety of the outputs depends on
exactly those differences:

- **Boot pulls.** Until something claims it, GPIO 0-8 are pulled high and 9-27 pulled low
  (BCM2711 datasheet, table 5-1 "Pull" column at reset; RP1 keeps the same defaults).
- **Claimed and released pins float.** gpiozero's LGPIOPin claims a pin as an input with its
  bias disabled (``SET_PULL_NONE``) when the process first asks the factory for it, and again
  on ``close()``: the pin no longer drives and no longer pulls. Claiming an output leaves the
  bias as it is.
- **A freed line keeps its bias.** When a process exits or crashes the kernel frees its lines:
  each becomes an input (bcm2835 pinctrl's free) and keeps the pull it had.
- **lgpio's PWM is software PWM with an end-of-cycle update.** A new duty applies only when the
  current cycle ends, and gpiozero hands lgpio whole percent (``int(value * 100)``), so a duty
  under 1 % is 0 and a cut of a 0.5 Hz PWM can take up to 2 s to reach the pin.

``level()`` says what a pin does electrically: ``"high"``, ``"low"`` or ``"floating"``; the
physics reads ``drive()`` (0..1, the duty a PWM pin applies; a floating gate counts as on,
the pessimistic reading of a MOSFET gate left to pick up charge).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

from gpiozero.pins.mock import MockFactory, MockPWMPin

BOOT_PULLED_HIGH = range(0, 9)  # GPIO 0-8 pulled up at reset; every other header pin down


def boot_pull(number: int) -> str:
    return "up" if number in BOOT_PULLED_HIGH else "down"


class SimPin(MockPWMPin):
    """A mock pin with the lgpio behaviour above, that tells the simulation before its state
    changes and keeps no history.

    ``_change_state`` is where gpiozero's own mock pins hook a change (MockConnectedPin,
    MockChargingPin). MockPin appends every change to ``states``; at 50 Hz that grows without
    bound in a long simulated run, so here ``states`` keeps the latest entry only.
    """

    def __init__(self, factory, info):
        super().__init__(factory, info)
        self._number = int(info.name.removeprefix("GPIO")) if info.name.startswith("GPIO") else -1
        if not info.pull:  # GPIO 2/3 keep their physical pull-ups
            self._pull = boot_pull(self._number)
            self._state = self._pull == "up"
        # PWM: the duty the pin applies now, the one waiting for the cycle's end, and when the
        # running cycles began (cycles end at origin + k / frequency).
        self._applied = 0.0
        self._pending: float | None = None
        self._switch_at_s = 0.0
        self._origin_s = 0.0

    def clear_states(self):
        super().clear_states()
        self.states = deque(self.states, maxlen=1)

    # -- lgpio semantics ---------------------------------------------------------------------
    def claimed_by_process(self) -> None:
        """LGPIOPin.__init__: ``gpio_claim_input(..., SET_PULL_NONE)``: an input, floating."""
        self._function = "input"
        self._pull = "floating"

    def close(self):
        """gpiozero's LGPIOPin.close(): an input with its bias disabled: floating."""
        super().close()
        self._pull = "floating"

    def kernel_release(self) -> None:
        """The kernel frees the line (process exit or crash): input, bias kept."""
        self._settle_pwm()
        self._frequency = None
        self._pending = None
        self._applied = 0.0
        self._function = "input"
        if self._pull == "up":
            self._change_state(True)
        elif self._pull == "down":
            self._change_state(False)

    def _set_frequency(self, value):
        self._settle_pwm()
        if value is not None and self._frequency is None:
            self._origin_s = self.factory.now()
            self._applied = 0.0
            self._pending = None
        super()._set_frequency(value)
        if value is None:
            self._applied = 0.0
            self._pending = None

    def _set_state(self, value):
        if self._frequency is not None and self._function == "output":
            self._settle_pwm()
            period = 1.0 / self._frequency
            cycles = math.floor((self.factory.now() - self._origin_s) / period + 1e-9)
            self._switch_at_s = self._origin_s + (cycles + 1) * period  # this cycle's end
            self._pending = int(value * 100) / 100  # gpiozero -> lgpio.tx_pwm: whole percent
        super()._set_state(value)

    def _settle_pwm(self, t_s: float | None = None) -> None:
        """Apply a pending duty if the cycle it waited for has ended by ``t_s`` (default now)."""
        if self._pending is None or self._frequency is None:
            return
        if (self.factory.now() if t_s is None else t_s) >= self._switch_at_s - 1e-9:
            self._applied = self._pending
            self._pending = None

    def _change_state(self, value):
        if self._state == value:
            return False
        if self.factory.before_change is not None:
            self.factory.before_change()
        super()._change_state(value)
        if self.factory.after_change is not None:
            self.factory.after_change(self)
        return True

    # -- what the pin does -------------------------------------------------------------------
    def pwm_duty(self, t_s: float | None = None) -> float:
        """The duty a PWM pin applies at ``t_s`` (default now), after lgpio's end-of-cycle delay."""
        if self._pending is not None and (self.factory.now() if t_s is None else t_s) >= self._switch_at_s - 1e-9:
            return self._pending
        return self._applied

    def drive(self, t_s: float | None = None) -> float:
        """What the pin puts on its load at ``t_s`` (default now), 0..1 (PWM: the applied duty)."""
        if self._function == "output":
            return self.pwm_duty(t_s) if self._frequency is not None else float(self._state)
        return {"up": 1.0, "down": 0.0}.get(self._pull, 1.0)  # floating: pessimistically on

    def level(self) -> str:
        """``high``, ``low`` or ``floating``, instantaneously (a PWM pin by its cycle's phase)."""
        if self._function == "output":
            if self._frequency is None:
                return "high" if self._state else "low"
            duty = self.pwm_duty()
            phase = ((self.factory.now() - self._origin_s) * self._frequency) % 1.0
            return "high" if phase < duty else "low"
        return {"up": "high", "down": "low"}.get(self._pull, "floating")


class SimPinFactory(MockFactory):
    def __init__(self, now: Callable[[], float] = lambda: 0.0) -> None:
        super().__init__(pin_class=SimPin)
        self.now = now
        self.before_change: Callable[[], None] | None = None
        self.after_change: Callable[[SimPin], None] | None = None
        self._claimed: set[SimPin] = set()  # the pins the controller's process has claimed

    def pin(self, name):
        """gpiozero's way in (the controller's process): the first time a pin is asked for, it
        is claimed as lgpio does, an input with its bias disabled."""
        pin = super().pin(name)
        if pin not in self._claimed:
            self._claimed.add(pin)
            pin.claimed_by_process()
        return pin

    def line(self, number: int) -> SimPin:
        """The simulation's way in: the pin as the hardware holds it, without claiming it."""
        return super().pin(number)

    def level(self, number: int) -> str:
        return self.line(number).level()

    def kernel_release_all(self) -> None:
        """Every line freed by the kernel, as when the controller's process exits or crashes
        without gpiozero closing anything."""
        for pin in list(self.pins.values()):
            pin.kernel_release()
        self._claimed.clear()  # a new process claims them afresh
        with self._res_lock:
            self._reservations.clear()  # the devices that held them died with the process
