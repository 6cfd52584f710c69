"""The session report counts every fill, not only those that got close, and a pad cooling down
to a lower target is no overshoot."""

from __future__ import annotations

from controller.machine.recorders import ReportBuilder
from controller.machine.snapshot import TickRecord
from controller.model.outputs import Outputs
from controller.model.readings import PadReading, Readings

PAD, CH = "left_calf", "left_thigh"


class Feed:
    def __init__(self) -> None:
        self.report = ReportBuilder([PAD], [CH])
        self.t = 0.0

    def tick(self, *, temp_c=30.0, heat_c=None, p=0.0, target=0.0, filling=False, mode="running",
             phase_changed=False):
        self.t += 0.25
        readings = Readings(t_s=self.t, pads={PAD: PadReading(temp_c, temp_c, self.t)}, pressure_mmhg={CH: p},
                            pressure_t_s={CH: self.t}, roller_current_a={}, estop_tripped=False, thermal_fresh=True,
                            errors=())
        out = Outputs.safe([PAD], [CH], []).with_(fill_open={CH: filling}, vent_open={CH: target == 0.0})
        self.report(TickRecord(self.t, mode, readings, out, {PAD: heat_c}, {CH: target}, (), (),
                               phase_changed))

    def fill(self, target, peak, *, cut=False):
        for p in (0.0, peak / 2, peak):
            self.tick(p=p, target=target, filling=True)
        self.tick(p=peak, target=target)
        self.tick(p=peak, target=0.0, phase_changed=cut)

    def chamber(self) -> dict:
        class _R:
            session = None
        return self.report.report(_R())["chambers"][CH]


def test_every_fill_is_counted_with_the_worst_shortfall():
    feed = Feed()
    feed.fill(82.0, 81.0)  # within 3 mmHg: reached
    feed.fill(82.0, 22.0)  # 60 short
    feed.fill(82.0, 70.0)  # 12 short
    c = feed.chamber()
    assert (c["fills"], c["fills_reached"], c["fills_short"], c["fills_cut_short"]) == (3, 1, 2, 0)
    assert c["worst_shortfall_mmhg"] == 60.0


def test_a_fill_cut_short_by_a_phase_change_is_counted_apart():
    feed = Feed()
    feed.fill(82.0, 30.0, cut=True)
    c = feed.chamber()
    assert (c["fills"], c["fills_short"], c["fills_cut_short"], c["worst_shortfall_mmhg"]) == (1, 0, 1, 0.0)


def test_a_fill_in_progress_when_the_report_is_made_counts_as_cut_short():
    feed = Feed()
    feed.tick(p=10.0, target=60.0, filling=True)
    assert (feed.chamber()["fills"], feed.chamber()["fills_cut_short"]) == (1, 1)


def test_cooling_down_to_a_lower_target_is_no_overshoot():
    feed = Feed()
    for _ in range(10):
        feed.tick(temp_c=40.0, heat_c=40.0)
    for temp in (39.8, 39.2, 38.6, 38.3, 38.1, 38.0, 37.9, 38.0):  # the target steps down to 38
        feed.tick(temp_c=temp, heat_c=38.0)
    pads = feed.report.report(type("R", (), {"session": None})())["pads"]
    assert pads[PAD]["overshoot_c"] == 0.0


def test_rising_past_the_target_after_coming_down_is_overshoot():
    feed = Feed()
    for temp in (39.0, 38.0, 37.9, 38.2, 38.4):
        feed.tick(temp_c=temp, heat_c=38.0)
    pads = feed.report.report(type("R", (), {"session": None})())["pads"]
    assert abs(pads[PAD]["overshoot_c"] - 0.4) < 1e-9
