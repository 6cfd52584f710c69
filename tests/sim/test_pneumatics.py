"""Air physics against its own laws: venting, holding, pump curve, sharing, never negative."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.params import SimParams, load_sim_params
from sim.pneumatics import Pneumatics

SIDES = ("left", "right")
POSITIONS = ("foot", "calf", "thigh")
NAMES = [f"{side}_{position}" for side in SIDES for position in POSITIONS]
POSITION_OF = {name: name.split("_", 1)[1] for name in NAMES}


@pytest.fixture(scope="module")
def params() -> SimParams:
    return load_sim_params()


def make(params: SimParams) -> Pneumatics:
    return Pneumatics(params, NAMES, POSITION_OF)


def closed() -> dict[str, bool]:
    return {name: False for name in NAMES}


def only(*names: str) -> dict[str, bool]:
    return {name: name in names for name in NAMES}


def run(pn: Pneumatics, seconds: float, dt_s: float, duty: float, fill: dict[str, bool],
        vent: dict[str, bool], leak_extra: dict[str, float] | None = None) -> None:
    for _ in range(round(seconds / dt_s)):
        pn.step(dt_s, duty, fill, vent, leak_extra)


def seconds_until(pn: Pneumatics, chamber: str, above_mmhg: float, dt_s: float = 0.001,
                  limit_s: float = 60.0) -> float:
    """Fill `chamber` alone at full pump, vent closed, until it passes `above_mmhg`."""
    fill, vent = only(chamber), closed()
    elapsed_s = 0.0
    while pn.pressure_mmhg[chamber] < above_mmhg:
        pn.step(dt_s, 1.0, fill, vent)
        elapsed_s += dt_s
        assert elapsed_s < limit_s, f"{chamber} never reached {above_mmhg} mmHg"
    return elapsed_s


@pytest.mark.parametrize("chamber", NAMES)
def test_a_vented_chamber_empties_from_100_to_below_10_mmhg_within_2_s(params, chamber):
    pn = make(params)
    pn.pressure_mmhg[chamber] = 100.0
    run(pn, 2.0, 0.02, 0.0, closed(), only(chamber))
    assert pn.pressure_mmhg[chamber] < 10.0


def test_a_vent_valve_left_out_of_the_command_is_open_as_when_unpowered(params):
    pn = make(params)
    pn.pressure_mmhg["left_calf"] = 100.0
    run(pn, 2.0, 0.02, 0.0, {}, {})
    assert pn.pressure_mmhg["left_calf"] < 10.0


@pytest.mark.parametrize("chamber", NAMES)
def test_a_sealed_chamber_holds_apart_from_a_small_leak(params, chamber):
    pn = make(params)
    pn.pressure_mmhg[chamber] = 100.0
    run(pn, 10.0, 0.02, 1.0, closed(), closed())  # pump running, but its valve is shut
    lost_mmhg_per_s = (100.0 - pn.pressure_mmhg[chamber]) / 10.0
    assert 0.5 <= lost_mmhg_per_s <= 2.0


def test_extra_leak_empties_a_sealed_chamber_faster(params):
    pn = make(params)
    pn.pressure_mmhg["left_calf"] = 100.0
    pn.pressure_mmhg["right_calf"] = 100.0
    run(pn, 10.0, 0.02, 0.0, closed(), closed(), {"left_calf": 20.0})
    assert pn.pressure_mmhg["left_calf"] < pn.pressure_mmhg["right_calf"] - 30.0


def test_a_dead_pump_fills_nothing(params):
    pn = make(params)
    pn.pump_efficiency = 0.0
    run(pn, 10.0, 0.02, 1.0, only(*NAMES), closed())
    assert all(p == 0.0 for p in pn.pressure_mmhg.values())
    assert pn.pump_flow_l_per_min == 0.0


def test_a_worn_pump_fills_slower(params):
    healthy, worn = make(params), make(params)
    worn.pump_efficiency = 0.5
    run(healthy, 3.0, 0.02, 1.0, only("left_foot"), closed())
    run(worn, 3.0, 0.02, 1.0, only("left_foot"), closed())
    assert 0.0 < worn.pressure_mmhg["left_foot"] < 0.6 * healthy.pressure_mmhg["left_foot"]


def test_a_dead_headed_pump_moves_no_air(params):
    pn = make(params)
    run(pn, 5.0, 0.02, 1.0, closed(), closed())
    assert all(p == 0.0 for p in pn.pressure_mmhg.values())
    assert pn.pump_flow_l_per_min == 0.0


def test_flow_falls_as_back_pressure_rises(params):
    pn = make(params)
    low_s = seconds_until(pn, "left_calf", 30.0)
    seconds_until(pn, "left_calf", 60.0)
    high_s = seconds_until(pn, "left_calf", 90.0)
    assert low_s < high_s


def test_the_pump_curve_falls_linearly_to_zero_at_its_stall_pressure(params):
    pn = make(params)
    flows = {}
    for back_mmhg in (15.0, 75.0, 150.0):
        seconds_until(pn, "left_calf", back_mmhg)
        flows[back_mmhg] = pn.pump_flow_l_per_min
    max_mmhg = params.pump.max_pressure_mmhg
    assert flows[15.0] < params.pump.free_flow_l_per_min
    assert flows[75.0] / flows[15.0] == pytest.approx((max_mmhg - 75) / (max_mmhg - 15), rel=0.01)
    assert flows[150.0] / flows[15.0] == pytest.approx((max_mmhg - 150) / (max_mmhg - 15), rel=0.01)


def test_full_pump_never_pushes_a_chamber_past_its_stall_pressure(params):
    pn = make(params)
    run(pn, 300.0, 0.05, 1.0, only("left_foot"), closed())
    assert 200.0 < pn.pressure_mmhg["left_foot"] < params.pump.max_pressure_mmhg


def test_the_analytic_fill_time_matches_the_simulation(params):
    for chamber, target_mmhg in (("left_foot", 60.0), ("left_calf", 52.0), ("right_thigh", 45.0)):
        pn = make(params)
        expected_s = pn.full_flow_fill_time_s(chamber, target_mmhg)
        assert seconds_until(pn, chamber, target_mmhg) == pytest.approx(expected_s, abs=0.002)


def test_full_flow_fill_times_are_those_of_a_real_sleeve(params):
    pn = make(params)
    assert 2.0 <= pn.full_flow_fill_time_s("left_foot", 60.0) <= 6.0
    assert 5.0 <= pn.full_flow_fill_time_s("left_thigh", 40.0) <= 10.0
    assert (pn.full_flow_fill_time_s("left_foot", 60.0)
            < pn.full_flow_fill_time_s("left_calf", 60.0)
            < pn.full_flow_fill_time_s("left_thigh", 60.0))
    assert pn.full_flow_fill_time_s("left_calf", 500.0) == math.inf
    assert pn.full_flow_fill_time_s("left_calf", 30.0, start_mmhg=30.0) == 0.0


def test_chambers_filled_together_share_the_pump(params):
    alone, together = make(params), make(params)
    run(alone, 3.0, 0.02, 1.0, only("left_calf"), closed())
    run(together, 3.0, 0.02, 1.0, only("left_calf", "right_calf"), closed())
    assert together.pressure_mmhg["left_calf"] < alone.pressure_mmhg["left_calf"]
    assert together.pressure_mmhg["left_calf"] == pytest.approx(
        together.pressure_mmhg["right_calf"], abs=0.01)


def test_open_fill_valves_let_air_pass_from_a_full_chamber_to_an_empty_one(params):
    pn = make(params)
    pn.pressure_mmhg["left_foot"] = 100.0
    c_foot = params.chambers["foot"].effective_compliance_l_per_mmhg
    c_calf = params.chambers["calf"].effective_compliance_l_per_mmhg
    run(pn, 10.0, 0.02, 0.0, only("left_foot", "left_calf"), closed())
    foot, calf = pn.pressure_mmhg["left_foot"], pn.pressure_mmhg["left_calf"]
    assert foot == pytest.approx(calf, abs=0.5)  # equalised through the manifold
    air_l = c_foot * foot + c_calf * calf  # conserved, apart from ~10 s of leak
    assert air_l == pytest.approx(c_foot * 100.0, rel=0.12)
    assert air_l < c_foot * 100.0


def test_large_and_small_steps_agree(params):
    # Single fills, a shared fill, a hold, a vent: switched on 0.05 s boundaries.
    sequence = [
        (2.0, 1.0, only("left_foot"), closed()),
        (3.0, 0.8, only("left_calf", "left_thigh", "left_foot"), closed()),
        (2.0, 1.0, only("right_thigh"), only("left_foot")),
        (1.5, 0.0, closed(), closed()),
        (1.0, 0.6, only("left_calf", "right_calf"), only("right_thigh")),
    ]
    results = []
    for dt_s in (0.05, 0.001):
        pn = make(params)
        for seconds, duty, fill, vent in sequence:
            run(pn, seconds, dt_s, duty, fill, vent)
        results.append(dict(pn.pressure_mmhg))
    coarse, fine = results
    for name in NAMES:
        assert coarse[name] == pytest.approx(fine[name], abs=0.02), name


step_strategy = st.tuples(
    st.floats(min_value=0.0005, max_value=0.05),          # dt_s
    st.floats(min_value=-0.5, max_value=1.5),             # pump duty, out of range too
    st.lists(st.booleans(), min_size=3, max_size=3),      # fill valves
    st.lists(st.booleans(), min_size=3, max_size=3),      # vent valves
    st.lists(st.floats(min_value=0.0, max_value=500.0), min_size=3, max_size=3),  # leak
    st.floats(min_value=0.0, max_value=1.0),              # pump efficiency
)


@settings(derandomize=True, database=None, max_examples=150, deadline=None)
@given(
    start=st.lists(st.floats(min_value=0.0, max_value=150.0), min_size=3, max_size=3),
    steps=st.lists(step_strategy, min_size=1, max_size=40),
)
def test_pressure_is_never_negative_and_never_above_what_the_pump_can_make(start, steps):
    params = SimParams()
    names = ["left_foot", "left_calf", "left_thigh"]
    pn = Pneumatics(params, names, {n: n.split("_")[1] for n in names})
    for name, p in zip(names, start):
        pn.pressure_mmhg[name] = p
    ceiling_mmhg = max(max(start), params.pump.max_pressure_mmhg)
    for dt_s, duty, fills, vents, leaks, efficiency in steps:
        pn.pump_efficiency = efficiency
        for _ in range(5):
            pn.step(dt_s, duty, dict(zip(names, fills)), dict(zip(names, vents)),
                    dict(zip(names, leaks)))
        for p in pn.pressure_mmhg.values():
            assert 0.0 <= p <= ceiling_mmhg + 1e-9


def test_a_chamber_off_the_manifold_decays_exponentially_and_zero_stays_zero():
    params = load_sim_params()
    names = ["left_calf", "right_calf"]
    pn = Pneumatics(params, names, {n: "calf" for n in names})
    pn.pressure_mmhg["left_calf"] = 80.0
    chamber = params.chambers["calf"]
    g = chamber.leak_conductance + chamber.vent_valve_conductance
    # No inflow (fill closed): p·exp(−dt·g/C) through the open vent and the leak.
    expected = 80.0 * math.exp(-0.02 * g / chamber.effective_compliance_l_per_mmhg)
    pn.step(0.02, 1.0, {}, {})
    assert pn.pressure_mmhg["left_calf"] == pytest.approx(expected, rel=1e-12)
    assert pn.pressure_mmhg["right_calf"] == 0.0
