"""PID gains for one pad from its measured heating response (commissioning).

A pad seen from its thermistor is a slow surface behind a few small lags (the element's own
mass, the film, the sensor's bead), which a full-power step shows as a *dead time* ``θ`` (the
tangent of steepest rise meets the starting temperature) and a *rate* ``r`` (°C/s at the
commissioning duty). Over the variation envelope both change several-fold (θ 5–40 s, r
0.02–0.33 °C/s), and one fixed gain set cannot both stop a heavy, laggy pad in time and let a
light, quick one rise at full power: the time the heat already in the element keeps the
reading rising after the heater comes off grows with θ. So the gains are scaled by the
measurement, in the manner of SIMC / lambda tuning for an integrating process with dead time
(Skogestad 2003: Kc = 1/(k'·(τc+θ)), τI ∝ θ), with the derivative that keeps the approach
short:

    kp = KP_RULE / (k'·θ)     (k' = r / duty: °C/s per unit duty)
    Td = TD_RULE · θ          (the derivative's look-ahead: about the dead time)
    Ti = TI_RULE · θ

The three constants were fitted on the simulated pad over the envelope's thermal corners (pad
mass 0.5/1/3x, heater power 70/130 %, sensor lag 1/4x, room 15/30 °C; targets 38, 40 and
42 °C), measured by the same step the machine runs: every corner reaches its target with
overshoot ≤ 0.26 °C, settles within ±0.005 °C and rises within 1.14x its full-power time (tests/controllers/test_heat_envelope.py). The result is
held inside the gain bounds below (and HeatControl's own field bounds), so a wild measurement
cannot produce a wild loop.
"""

from __future__ import annotations

import math

KP_RULE = 1.1
TD_RULE = 0.8
TI_RULE = 6.0

#: outer bounds on gains derived from a measurement (duty per °C, per °C·s, per °C/s): the
#: envelope's corners need kp 0.6–4.3, ki 0.005–0.07, kd 7–95; the bounds leave room around that
#: and stop a nonsense measurement (a near-zero rate or dead time) from giving a bang-bang loop.
KP_BOUNDS = (0.05, 10.0)
KI_BOUNDS = (0.0, 0.5)
KD_BOUNDS = (0.0, 300.0)
#: the shortest dead time the rule trusts: below a second (a 4 Hz loop) a measurement says nothing
MIN_DEAD_TIME_S = 1.0


def gains_from_response(rate_c_per_s: float, dead_time_s: float, duty: float) -> tuple[float, float, float]:
    """(kp, ki, kd) for ``Pid`` from a step at ``duty`` that rose at most ``rate_c_per_s`` after
    ``dead_time_s``. ``ValueError`` for a response that is no heating (rate ≤ 0, not finite)."""
    for name, value in (("rate_c_per_s", rate_c_per_s), ("dead_time_s", dead_time_s), ("duty", duty)):
        if not math.isfinite(value) or value <= 0.0:
            raise ValueError(f"{name} = {value} must be a finite number above 0")
    gain_per_duty = rate_c_per_s / min(duty, 1.0)  # °C/s at full duty
    theta_s = max(dead_time_s, MIN_DEAD_TIME_S)
    kp = KP_RULE / (gain_per_duty * theta_s)
    ki = kp / (TI_RULE * theta_s)
    kd = kp * TD_RULE * theta_s
    return _clip(kp, KP_BOUNDS), _clip(ki, KI_BOUNDS), _clip(kd, KD_BOUNDS)


def _clip(value: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return min(high, max(low, value))
