"""Air physics of both sleeves: one shared pump, a fill and a vent valve per chamber, leaks.

Each chamber is a compliance C (L/mmHg): C·dp/dt = inflow − outflow, p gauge mmHg ≥ 0.
The pump is a DC diaphragm pump: at duty d it is a source of d·p_max behind the conductance
free_flow/p_max, and its reed valves stop backflow. The pump feeds a manifold of negligible
volume; every open fill valve joins the manifold to its chamber, so with several open the
manifold settles between their pressures and air shares out by conductance (and may pass
from a full chamber to an emptier one). With no fill valve open the pump dead-heads: no flow
(a relief valve above the pump's stall pressure keeps the manifold safe; it never opens here).

All flows are linear in pressure difference, so each chamber's update is an exact
exponential towards its momentary equilibrium: stable at any dt, never below 0 mmHg. With
several fill valves open the chambers are updated in turn, each seeing the manifold (pump
plus the other open chambers) as a Thévenin source, in symmetric forward/backward sweeps and
sub-steps of at most 25 ms, so the air they exchange comes out the same at any caller dt.
"""

from __future__ import annotations

import math

from sim.params import ChamberParams, SimParams

# s. Longest sub-step while two or more fill valves are open (chambers exchanging air).
_COUPLED_SUBSTEP_S = 0.025


class Pneumatics:
    """Both sleeves' chambers. `pressure_mmhg` is live (updated in place; callers may set it)."""

    def __init__(self, params: SimParams, chamber_names: list[str],
                 position_of: dict[str, str]) -> None:
        self.params = params
        self.chamber_names: list[str] = list(chamber_names)
        chambers: list[ChamberParams] = []
        for name in self.chamber_names:
            position = position_of.get(name)
            if position not in params.chambers:
                raise ValueError(f"chamber {name!r}: position {position!r} has no params "
                                 f"(known: {sorted(params.chambers)})")
            chambers.append(params.chambers[position])
        # Plain per-chamber float lists, indexed like chamber_names: cheap in `step`.
        self._compliance = [c.effective_compliance_l_per_mmhg for c in chambers]
        self._g_fill = [c.fill_valve_conductance for c in chambers]
        self._g_vent = [c.vent_valve_conductance for c in chambers]
        self._g_leak = [c.leak_conductance for c in chambers]
        self._pressures = [0.0] * len(chambers)  # scratch copy of pressure_mmhg for a step
        self._fill_mask = [False] * len(chambers)
        self._g_out = [0.0] * len(chambers)  # vent + leak conductance this step
        self._forward = range(len(chambers))
        self._backward = range(len(chambers) - 1, -1, -1)

        self._free_flow_l_per_s = params.pump.free_flow_l_per_min / 60.0
        self._max_pressure_mmhg = params.pump.max_pressure_mmhg

        self.pressure_mmhg: dict[str, float] = {name: 0.0 for name in self.chamber_names}
        # Fault injection: 1.0 healthy, 0.5 a worn pump (half the flow), 0.0 a dead pump.
        self.pump_efficiency: float = 1.0
        # Diagnostics from the last step (start-of-step values).
        self.pump_flow_l_per_min: float = 0.0
        self.manifold_mmhg: float = 0.0

    def step(self, dt_s: float, pump_duty: float, fill_open: dict[str, bool],
             vent_open: dict[str, bool], leak_extra: dict[str, float] | None = None) -> None:
        """Advance dt_s seconds.

        pump_duty 0..1. A chamber missing from fill_open counts as closed and from vent_open
        as open: the valves' unpowered states. leak_extra[name] adds that many times the
        chamber's normal leak (0 = healthy, 100 ≈ a loose hose).
        """
        if dt_s <= 0.0:
            return
        names = self.chamber_names
        p = self._pressures
        mask = self._fill_mask
        g_out = self._g_out
        live = self.pressure_mmhg
        g_leak = self._g_leak
        g_vent = self._g_vent

        n_open = 0
        for i, name in enumerate(names):
            pi = live[name]
            p[i] = pi if pi > 0.0 else 0.0
            is_open = fill_open.get(name, False)
            mask[i] = is_open
            if is_open:
                n_open += 1
            g = g_leak[i]
            if leak_extra is not None:
                extra = leak_extra.get(name, 0.0)
                if extra > 0.0:
                    g += g_leak[i] * extra
            if vent_open.get(name, True):
                g += g_vent[i]
            g_out[i] = g

        duty = 0.0 if pump_duty <= 0.0 else 1.0 if pump_duty >= 1.0 else pump_duty
        efficiency = self.pump_efficiency if self.pump_efficiency > 0.0 else 0.0
        pump_g = self._free_flow_l_per_s * efficiency / self._max_pressure_mmhg  # L/(s·mmHg)
        pump_source_mmhg = duty * self._max_pressure_mmhg

        # One chamber on the manifold is solved exactly by a single sweep. Several exchange
        # air through it, which a sweep only approximates: symmetric sweeps in sub-steps.
        if n_open <= 1:
            self._substep(dt_s, pump_g, pump_source_mmhg, True, False)
        else:
            n_sub = max(1, math.ceil(dt_s / _COUPLED_SUBSTEP_S - 1e-9))
            h_s = dt_s / n_sub
            for k in range(n_sub):
                self._substep(h_s, pump_g, pump_source_mmhg, k == 0, True)
        if n_open == 0:
            # Dead-headed: the pump holds its outlet at its stall pressure (below the relief).
            self.manifold_mmhg = pump_source_mmhg if pump_g > 0.0 else 0.0
        for i, name in enumerate(names):
            live[name] = p[i]

    def _substep(self, dt_s: float, pump_g: float, pump_source_mmhg: float,
                 record: bool, symmetric: bool) -> None:
        p = self._pressures
        mask = self._fill_mask
        g_fill = self._g_fill
        sum_g = 0.0
        sum_gp = 0.0
        for i in self._forward:
            if mask[i]:
                sum_g += g_fill[i]
                sum_gp += g_fill[i] * p[i]
        # The pump pushes only while the manifold is below its source pressure, i.e. while
        # the open chambers' conductance-weighted mean pressure is below it (check valves).
        if sum_g > 0.0 and pump_g > 0.0 and sum_gp < sum_g * pump_source_mmhg:
            g_src = pump_g
        else:
            g_src = 0.0
        b_src = g_src * pump_source_mmhg  # L/s the pump would give into a 0 mmHg manifold
        total_g = g_src + sum_g
        if record:
            if sum_g > 0.0:
                self.manifold_mmhg = (b_src + sum_gp) / total_g
                self.pump_flow_l_per_min = 60.0 * g_src * (pump_source_mmhg - self.manifold_mmhg)
            else:
                self.pump_flow_l_per_min = 0.0
        if symmetric:
            # Half forward, half back: second-order in the coupling, and the result does not
            # depend on the order of chamber_names.
            half_s = 0.5 * dt_s
            sum_gp = self._sweep(self._forward, half_s, b_src, total_g, sum_gp)
            self._sweep(self._backward, half_s, b_src, total_g, sum_gp)
        else:
            self._sweep(self._forward, dt_s, b_src, total_g, sum_gp)

    def _sweep(self, order: range, dt_s: float, b_src: float, total_g: float,
               sum_gp: float) -> float:
        """Relax each chamber in `order` exactly towards the manifold as the others left it."""
        p = self._pressures
        mask = self._fill_mask
        g_fill = self._g_fill
        g_out = self._g_out
        compliance = self._compliance
        for i in order:
            pi = p[i]
            g_in = 0.0
            source = 0.0
            if mask[i]:
                # Everything else on the manifold (pump + other open chambers) as a source
                # `source` behind `g_rest`, in series with this chamber's fill valve.
                gf = g_fill[i]
                g_rest = total_g - gf
                if g_rest > 0.0:
                    source = (b_src + sum_gp - gf * pi) / g_rest
                    g_in = gf * g_rest / total_g
            g_total = g_in + g_out[i]
            if g_total <= 0.0:
                continue
            target = g_in * source / g_total
            new = target + (pi - target) * math.exp(-dt_s * g_total / compliance[i])
            if new < 0.0:
                new = 0.0
            if mask[i]:
                sum_gp += g_fill[i] * (new - pi)
            p[i] = new
        return sum_gp

    def full_flow_fill_time_s(self, chamber: str, target_mmhg: float,
                              start_mmhg: float = 0.0) -> float:
        """Seconds a healthy pump at full duty needs to take `chamber` from start to target
        with only its fill valve open, vent closed, normal leak (inf if it never gets there).

        Analytic: the pump, fill valve and leak make a first-order system.
        """
        i = self.chamber_names.index(chamber)
        if target_mmhg <= start_mmhg:
            return 0.0
        pump_g = self._free_flow_l_per_s / self._max_pressure_mmhg
        gf = self._g_fill[i]
        g_in = pump_g * gf / (pump_g + gf)
        g_total = g_in + self._g_leak[i]
        final_mmhg = g_in * self._max_pressure_mmhg / g_total
        if target_mmhg >= final_mmhg:
            return math.inf
        tau_s = self._compliance[i] / g_total
        return tau_s * math.log((final_mmhg - start_mmhg) / (final_mmhg - target_mmhg))
