"""Heat pad physics: element and surface thermal masses, plus the lag each sensor adds.

Two masses, because the element runs hotter than the surface the person feels and the
sensors see: heat goes element → surface → (limb, room). The two sensors see the surface
through their own first-order lags (an NTC glued on, an MCP9808 on its board), which is why a
pad can be past 45 °C before either sensor says so.

The update is the exact solution of the linear two-mass system for an input held over the
step (matrix exponential cached per dt), so it is stable and accurate at any dt.
"""

from __future__ import annotations

import math

from sim.params import PadParams


class PadThermal:
    """One pad. Temperatures in °C; `step(dt_s, power_fraction)` advances time."""

    def __init__(self, params: PadParams, start_c: float) -> None:
        self.params = params
        self._c_element = params.element_heat_capacity_j_per_k
        self._c_surface = params.surface_heat_capacity_j_per_k
        self._g_es = params.element_to_surface_w_per_k
        self._g_limb = params.surface_to_limb_w_per_k
        self._g_room = params.surface_to_room_w_per_k
        self._power_w = params.heater_power_w
        # Instance copies so a scenario can change the room or the limb mid-run.
        self.limb_temp_c = params.limb_temp_c
        self.room_temp_c = params.room_temp_c
        self._tau_thermistor_s = params.thermistor_lag_s
        self._tau_digital_s = params.digital_sensor_lag_s

        self.element_c = float(start_c)
        self.surface_c = float(start_c)
        # What the NTC and the MCP9808 currently see (lagged surface temperature).
        self.thermistor_c = float(start_c)
        self.digital_c = float(start_c)

        self._cached_dt_s = -1.0
        self._phi_ee = self._phi_es = self._phi_se = self._phi_ss = 0.0
        self._k_thermistor = self._k_digital = 0.0

    # -- analytic helpers -------------------------------------------------------------------

    def steady_state_surface_c(self, power_fraction: float) -> float:
        """Surface temperature where losses to limb and room equal the heater power."""
        g_loss = self._g_limb + self._g_room
        power_w = self._power_w * _clip01(power_fraction)
        return (power_w + self._g_limb * self.limb_temp_c + self._g_room * self.room_temp_c) / g_loss

    def steady_state_element_c(self, power_fraction: float) -> float:
        """Element temperature at steady state: the surface plus the film's drop."""
        power_w = self._power_w * _clip01(power_fraction)
        return self.steady_state_surface_c(power_fraction) + power_w / self._g_es

    @property
    def heat_loss_w(self) -> float:
        """W leaving the surface right now, to the limb and to the room."""
        s = self.surface_c
        return self._g_limb * (s - self.limb_temp_c) + self._g_room * (s - self.room_temp_c)

    @property
    def stored_heat_j(self) -> float:
        """J held by the two masses relative to 0 °C (for energy-balance checks)."""
        return self._c_element * self.element_c + self._c_surface * self.surface_c

    # -- time -------------------------------------------------------------------------------

    def step(self, dt_s: float, power_fraction: float) -> None:
        """Advance dt_s seconds with the heater delivering power_fraction (0..1) of full power.

        The caller decides the fraction: 0 with the relay open or the element broken.
        """
        if dt_s <= 0.0:
            return
        if dt_s != self._cached_dt_s:
            self._prepare(dt_s)
        power_w = self._power_w * (0.0 if power_fraction <= 0.0 else
                                   1.0 if power_fraction >= 1.0 else power_fraction)
        # Equilibrium for this input, then relax the deviation exactly: x' = x* + Φ(x − x*).
        surf_eq = ((power_w + self._g_limb * self.limb_temp_c + self._g_room * self.room_temp_c)
                   / (self._g_limb + self._g_room))
        elem_eq = surf_eq + power_w / self._g_es
        de = self.element_c - elem_eq
        ds = self.surface_c - surf_eq
        old_surface_c = self.surface_c
        self.element_c = elem_eq + self._phi_ee * de + self._phi_es * ds
        self.surface_c = surf_eq + self._phi_se * de + self._phi_ss * ds
        # Sensors follow the step's mean surface temperature (trapezoid: dt-independent
        # to second order while the surface ramps).
        seen_c = 0.5 * (old_surface_c + self.surface_c)
        self.thermistor_c += (seen_c - self.thermistor_c) * self._k_thermistor
        self.digital_c += (seen_c - self.digital_c) * self._k_digital

    def _prepare(self, dt_s: float) -> None:
        """Cache Φ = exp(A·dt) for the 2×2 system and the sensor lag factors for this dt."""
        a_ee = -self._g_es / self._c_element
        a_es = self._g_es / self._c_element
        a_se = self._g_es / self._c_surface
        a_ss = -(self._g_es + self._g_limb + self._g_room) / self._c_surface
        # Eigenvalues are real and distinct (the system is a symmetrisable RC network).
        half_trace = 0.5 * (a_ee + a_ss)
        det = a_ee * a_ss - a_es * a_se
        root = math.sqrt(max(half_trace * half_trace - det, 0.0))
        lam1 = half_trace + root
        lam2 = half_trace - root
        e1 = math.exp(lam1 * dt_s)
        e2 = math.exp(lam2 * dt_s)
        # Sylvester: exp(At) = [e1 (A − λ2 I) − e2 (A − λ1 I)] / (λ1 − λ2).
        inv = 1.0 / (lam1 - lam2)
        self._phi_ee = (e1 * (a_ee - lam2) - e2 * (a_ee - lam1)) * inv
        self._phi_es = (e1 - e2) * a_es * inv
        self._phi_se = (e1 - e2) * a_se * inv
        self._phi_ss = (e1 * (a_ss - lam2) - e2 * (a_ss - lam1)) * inv
        self._k_thermistor = 1.0 - math.exp(-dt_s / self._tau_thermistor_s)
        self._k_digital = 1.0 - math.exp(-dt_s / self._tau_digital_s)
        self._cached_dt_s = dt_s


def _clip01(x: float) -> float:
    return 0.0 if x <= 0.0 else 1.0 if x >= 1.0 else x
