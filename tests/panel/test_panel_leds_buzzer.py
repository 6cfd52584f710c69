"""Status LEDs and buzzer: a person can tell idle, running, paused, fault and lockout apart."""

import asyncio
from dataclasses import replace

import pytest

from controller.machine.hub import MachineHub
from tests.fake_machine import fault, make_state
from controller.interfaces.panel_signals import (FAULT, LOCKOUT, REFUSED, SESSION_END, SESSION_START, PanelOutputs,
                                                PanelSelection, drive_outputs, duration_s, led_pattern)


def snap(mode, **fields):
    """The machine's state in ``mode``, nothing heating unless ``fields`` say so."""
    return make_state(mode, **{"heat_on": False, **fields})


def lit_over(snapshot, name, seconds=4.0, step=0.01, selection=None):
    """Fraction of time an LED is lit, and how many times it turns on, over ``seconds``."""
    samples = [led_pattern(snapshot, i * step, selection)[name] for i in range(int(seconds / step))]
    turn_ons = sum(1 for a, b in zip(samples, samples[1:]) if b and not a)
    return sum(samples) / len(samples), turn_ons


class Recorder:
    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail

    def set(self, on):
        if self.fail:
            raise OSError(121, "Remote I/O error")
        self.calls.append(bool(on))

    @property
    def on(self):
        return bool(self.calls) and self.calls[-1]


def outputs():
    leds = {name: Recorder() for name in ("run", "pause", "fault", "heat")}
    return PanelOutputs(leds, Recorder())


def beeps_heard(out, start, seconds, step=0.01):
    """(number of beeps, their lengths in s) the buzzer plays from ``start`` for ``seconds``."""
    lengths, run = [], 0
    for i in range(int(seconds / step) + 1):
        if out.buzzer_on(start + i * step):
            run += 1
        elif run:
            lengths.append(run * step)
            run = 0
    if run:
        lengths.append(run * step)
    return len(lengths), lengths


# ---------------------------------------------------------------- LEDs


def test_idle_is_a_short_slow_flash_of_the_run_led():
    s = snap("idle")
    assert led_pattern(s, 0.05)["run"] and led_pattern(s, 2.1)["run"]
    assert not led_pattern(s, 0.5)["run"] and not led_pattern(s, 1.5)["run"]
    duty, flashes = lit_over(s, "run", seconds=8.0)
    assert flashes == 3 or flashes == 4  # 0.5 Hz
    assert duty < 0.2  # a short flash, not a blink
    for name in ("pause", "fault", "heat"):
        assert lit_over(s, name)[0] == 0


@pytest.mark.parametrize("mode", ["completed", "stopped"])
def test_a_finished_session_looks_ready_like_idle(mode):
    assert [led_pattern(snap(mode), t) for t in (0.05, 0.5, 1.9)] == \
           [led_pattern(snap("idle"), t) for t in (0.05, 0.5, 1.9)]


def test_running_is_the_run_led_steady_and_paused_the_pause_led_steady():
    for t in (0.0, 0.3, 1.1, 7.77):
        assert led_pattern(snap("running"), t) == {"run": True, "pause": False, "fault": False, "heat": False}
        assert led_pattern(snap("paused"), t) == {"run": False, "pause": True, "fault": False, "heat": False}


def test_a_fault_blinks_the_fault_led_at_2_hz():
    s = snap("fault", faults=[fault("overpressure", "stop")])
    assert led_pattern(s, 0.1)["fault"] and not led_pattern(s, 0.3)["fault"] and led_pattern(s, 0.6)["fault"]
    duty, blinks = lit_over(s, "fault", seconds=4.0)
    assert blinks in (7, 8) and duty == pytest.approx(0.5, abs=0.05)
    assert lit_over(s, "run")[0] == 0 and lit_over(s, "pause")[0] == 0


def test_a_lockout_is_the_fault_led_steady_with_the_pause_led_blinking():
    s = snap("lockout", lockout=True, faults=[fault("heater_stuck_on", "lockout")])
    assert lit_over(s, "fault") == (1.0, 0)
    duty, blinks = lit_over(s, "pause", seconds=4.0)
    assert blinks in (3, 4) and duty == pytest.approx(0.5, abs=0.05)
    assert lit_over(s, "run")[0] == 0


def test_every_mode_looks_different_from_every_other():
    modes = {
        "idle": snap("idle"),
        "running": snap("running"),
        "paused": snap("paused"),
        "fault": snap("fault", faults=[fault("x", "stop")]),
        "lockout": snap("lockout", lockout=True),
    }
    looks = {m: tuple(tuple(sorted(led_pattern(s, t / 100).items())) for t in range(0, 400, 5))
             for m, s in modes.items()}
    assert len(set(looks.values())) == len(modes)


def test_a_stop_fault_shows_even_before_the_runner_reports_fault_and_a_warning_does_not():
    running_with_fault = snap("running", faults=[fault("overpressure", "stop")])
    assert led_pattern(running_with_fault, 0.1)["fault"] and not led_pattern(running_with_fault, 0.1)["run"]
    warning = snap("running", faults=[fault("sensor_noisy", "warning")])
    assert led_pattern(warning, 0.1) == led_pattern(snap("running"), 0.1)


def test_heat_led_shows_heating_while_running_and_heat_targets():
    assert led_pattern(snap("running", heat_on=True), 0.3)["heat"]
    assert not led_pattern(snap("running", heat_on=False), 0.3)["heat"]
    paused_warm = snap("paused", pads={"left_calf": {"target_c": 39.0}, "right_calf": {"target_c": None}})
    assert led_pattern(paused_warm, 0.3)["heat"]
    assert not led_pattern(snap("paused", heat_on=True), 0.3)["heat"]


def test_heat_selected_while_idle_flashes_with_the_ready_flash():
    selected = PanelSelection(program="warm_up", intensity=3, heat=True, standby=False)
    assert led_pattern(snap("idle"), 0.05, selected)["heat"]
    assert not led_pattern(snap("idle"), 0.5, selected)["heat"]
    assert not led_pattern(snap("idle"), 0.05, replace(selected, heat=False))["heat"]


def test_standby_darkens_the_panel_but_not_a_fault():
    standby = PanelSelection(program="warm_up", intensity=3, heat=True, standby=True)
    assert not any(any(led_pattern(snap("idle"), t, standby).values()) for t in (0.05, 0.5, 1.0))
    assert led_pattern(snap("lockout", lockout=True), 0.7, standby)["fault"]


def test_update_drives_the_leds_and_writes_only_changes():
    out = outputs()
    out.update(snap("running", heat_on=True), 0.0)
    assert {n: led.on for n, led in out.leds.items()} == {"run": True, "pause": False, "fault": False,
                                                          "heat": True}
    for t in (0.02, 0.04, 0.06):
        out.update(snap("running", heat_on=True), t)
    assert all(len(led.calls) == 1 for led in out.leds.values())
    out.update(snap("paused"), 0.08)
    assert out.leds["pause"].on and not out.leds["run"].on


def test_a_failing_led_is_logged_not_raised(caplog):
    leds = {"run": Recorder(fail=True), "pause": Recorder()}
    out = PanelOutputs(leds, None)
    out.update(snap("paused"), 0.0)
    out.update(snap("paused"), 0.1)
    assert leds["pause"].on
    assert sum("panel output run failed" in r.message for r in caplog.records) == 1


# ---------------------------------------------------------------- buzzer


def test_session_start_is_one_short_beep():
    out = outputs()
    out.on_event({"type": "session_start", "t_s": 1.0, "program": "lymphatic"}, 10.0)
    count, lengths = beeps_heard(out, 10.0, 3.0)
    assert count == 1 and lengths[0] <= 0.3


def test_a_completed_session_is_two_beeps():
    out = outputs()
    out.on_event({"type": "session_end", "outcome": "completed"}, 5.0)
    assert beeps_heard(out, 5.0, 3.0)[0] == 2


def test_a_fault_is_three_long_beeps_and_a_lockout_sounds_for_10_s():
    out = outputs()
    out.on_event({"type": "fault", "severity": "stop", "code": "overpressure"}, 0.0)
    count, lengths = beeps_heard(out, 0.0, 5.0)
    assert count == 3 and min(lengths) >= 0.5
    out = outputs()
    out.on_event({"type": "fault", "severity": "lockout", "code": "heater_stuck_on"}, 0.0)
    count, lengths = beeps_heard(out, 0.0, 12.0)
    assert count == 5 and all(x == pytest.approx(1.0, abs=0.02) for x in lengths)
    assert not out.buzzer_on(10.5) and not out.sounding


def test_a_refused_command_is_a_short_double_chirp():
    out = outputs()
    out.on_event({"type": "refused", "command": "start", "reason": "fault"}, 0.0)
    count, lengths = beeps_heard(out, 0.0, 2.0)
    assert count == 2 and max(lengths) <= 0.15


def test_patterns_are_data():
    for pattern in (SESSION_START, SESSION_END, FAULT, LOCKOUT, REFUSED):
        assert all(isinstance(on, bool) and d > 0 for on, d in pattern)
    assert duration_s(LOCKOUT) == pytest.approx(10.0)


def test_a_fault_cuts_into_other_beeps_and_drowns_out_chirps():
    out = outputs()
    out.on_event({"type": "session_end", "outcome": "completed"}, 0.0)
    out.on_event({"type": "fault", "severity": "stop"}, 0.1)
    out.on_event({"type": "refused"}, 0.2)
    count, lengths = beeps_heard(out, 0.1, 6.0)
    assert count == 3 and min(lengths) >= 0.5


def test_session_beeps_queue_one_after_the_other():
    out = outputs()
    out.on_event({"type": "session_start"}, 0.0)
    out.on_event({"type": "session_end", "outcome": "completed"}, 0.05)
    assert beeps_heard(out, 0.0, 3.0)[0] == 3


def test_update_sounds_the_buzzer_by_time():
    out = outputs()
    out.on_event({"type": "session_start"}, 1.0)
    assert out.update(snap("running"), 1.05)["buzzer"] and out.buzzer.on
    assert not out.update(snap("running"), 1.5)["buzzer"] and not out.buzzer.on
    assert out.buzzer.calls == [True, False]


@pytest.mark.looptime
async def test_drive_outputs_follows_hub_events_and_state():
    hub = MachineHub()
    out = outputs()
    task = asyncio.create_task(drive_outputs(hub, out, period_s=0.02))
    hub.publish_state(snap("running", heat_on=True))
    await asyncio.sleep(0.05)
    assert out.leds["run"].on and out.leds["heat"].on
    hub.publish_event({"type": "fault", "severity": "stop", "t_s": 1.0})
    hub.publish_state(snap("fault", faults=[fault("overpressure", "stop")]))
    await asyncio.sleep(0.1)
    assert out.buzzer.on and not out.leds["run"].on
    await asyncio.sleep(5.0)
    assert out.buzzer.calls == [False] + [True, False] * 3  # off at start, then three beeps
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
