"""The button panel, driven through real gpiozero Buttons on mock pins, on the loop's virtual clock.

A fake hub plays the machine: it records every command the panel submits and moves its mode
the way the runner would (start → running, pause → paused, ...), so a sequence of presses
reads like a person at the couch using the machine.
"""

import asyncio
import threading

import pytest
from gpiozero import Button
from gpiozero.pins.mock import MockFactory, MockPWMPin

from controller.model.commands import CommandResult, Source
from controller.model.config import load_config
from controller.interfaces.panel import BUTTON_NAMES, Panel
from controller.interfaces.panel_signals import REFUSED, PanelOutputs
from tests.fake_machine import fault, make_state

PINS = {name: pin for name, pin in load_config().board.buttons.model_dump().items() if name != "estop"}
PROGRAMS = ("quick_circulation", "calf_focus", "lymphatic")
DEBOUNCE_S = 0.03
SETTLE_S = 0.05  # a little more than the debounce: a press has been acted on by then


class FakeHub:
    """The hub's panel side: ``state`` holds the fields that differ from a quiet machine's
    (``make_state``); ``snapshot()`` is the whole ``State`` the panel reads."""

    def __init__(self, mode="idle", programs=PROGRAMS):
        self.state = {"mode": mode, "intensity": 3, "heat_on": True, "faults": [], "lockout": False}
        self.program_ids = list(programs)
        self.sent = []
        self.sent_at = []
        self.refuse = set()

    def snapshot(self):
        return make_state(**self.state)

    def programs(self):
        return [{"id": p, "name": p.replace("_", " ")} for p in self.program_ids]

    async def submit(self, cmd, source, peer=None, timeout=30.0):
        assert source is Source.PANEL
        self.sent.append(cmd)
        self.sent_at.append(asyncio.get_running_loop().time())
        if cmd.command in self.refuse:
            return CommandResult.refused(cmd, f"{cmd.command} refused by the machine")
        s = self.state
        if cmd.command == "start":
            s.update(mode="running", program=cmd.program, intensity=cmd.intensity, heat_on=cmd.heat)
        elif cmd.command == "pause" and s["mode"] == "running":
            s["mode"] = "paused"
        elif cmd.command == "resume" and s["mode"] == "paused":
            s["mode"] = "running"
        elif cmd.command == "stop" and s["mode"] in ("running", "paused"):
            s["mode"] = "stopped"
        elif cmd.command == "set_intensity":
            s["intensity"] = cmd.intensity
        elif cmd.command == "set_heat":
            s["heat_on"] = cmd.on
        elif cmd.command == "ack" and s["mode"] == "fault":
            s.update(mode="idle", faults=[])
        return CommandResult.accepted(cmd)

    def names(self):
        return [c.command for c in self.sent]


class GpioButton:
    """The smallest ButtonLike over a real gpiozero Button (what drivers.buttons.PanelButton does)."""

    def __init__(self, pin, factory):
        self.device = Button(pin, pull_up=True, bounce_time=None, pin_factory=factory)
        self.callbacks = []
        self.device.when_pressed = lambda: self._fire(True)
        self.device.when_released = lambda: self._fire(False)

    @property
    def is_pressed(self):
        return bool(self.device.is_pressed)

    def on_change(self, callback):
        self.callbacks.append(callback)

    def _fire(self, pressed):
        for cb in list(self.callbacks):
            cb(pressed)


class RecordingOutputs:
    def __init__(self):
        self.events = []

    def on_event(self, event, now_s):
        self.events.append(event)

    def kinds(self):
        return [e["type"] for e in self.events]


@pytest.fixture
def factory():
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.close()
    f.reset()


@pytest.fixture
def buttons(factory):
    made = {name: GpioButton(pin, factory) for name, pin in PINS.items()}
    yield made
    for name in made:
        factory.pin(PINS[name]).drive_high()  # a held Button's hold thread makes close() wait
    # each Button's hold thread polls every 0.1 s before it can be joined: close them together
    closers = [threading.Thread(target=b.device.close) for b in made.values()]
    for t in closers:
        t.start()
    for t in closers:
        t.join()


@pytest.fixture
def hub():
    return FakeHub()


@pytest.fixture
def feedback():
    return RecordingOutputs()


@pytest.fixture
async def panel(hub, buttons, feedback):
    p = Panel(hub, buttons, debounce_s=DEBOUNCE_S, long_press_s=1.5, outputs=feedback)
    task = asyncio.create_task(p.run())
    await asyncio.sleep(0)
    yield p
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def pin(factory, name):
    return factory.pin(PINS[name])


async def tap(factory, name, hold_s=0.2, after_s=0.2):
    pin(factory, name).drive_low()
    await asyncio.sleep(hold_s)
    pin(factory, name).drive_high()
    await asyncio.sleep(after_s)


def test_panel_knows_exactly_the_config_buttons_and_not_the_estop():
    assert set(BUTTON_NAMES) == set(PINS)
    with pytest.raises(ValueError, match="e-stop"):
        Panel(FakeHub(), {"estop": object()})


@pytest.mark.looptime
async def test_a_clean_press_of_start_starts_the_selected_program(factory, hub, panel):
    await tap(factory, "start_pause")
    assert hub.names() == ["start"]
    start = hub.sent[0]
    assert (start.program, start.intensity, start.heat) == ("quick_circulation", 3, True)
    assert panel.last_result is not None and panel.last_result.ok


@pytest.mark.looptime
async def test_a_press_is_acted_on_once_the_contact_has_settled(factory, hub, panel):
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    pin(factory, "start_pause").drive_low()
    await asyncio.sleep(0.02)
    assert hub.sent == []  # still inside the debounce window
    await asyncio.sleep(0.03)
    assert hub.names() == ["start"]
    assert hub.sent_at[0] - t0 == pytest.approx(DEBOUNCE_S, abs=0.005)


@pytest.mark.looptime
async def test_contact_bounce_gives_exactly_one_press(factory, hub, panel):
    p = pin(factory, "start_pause")
    for _ in range(4):  # press: 8 edges within 8 ms, ending pressed
        p.drive_low()
        await asyncio.sleep(0.001)
        p.drive_high()
        await asyncio.sleep(0.001)
    p.drive_low()
    await asyncio.sleep(0.5)
    for _ in range(4):  # release bounces too
        p.drive_high()
        await asyncio.sleep(0.001)
        p.drive_low()
        await asyncio.sleep(0.001)
    p.drive_high()
    await asyncio.sleep(0.5)
    assert hub.names() == ["start"]  # one press: not start, pause, resume, ...
    assert hub.state["mode"] == "running"


@pytest.mark.looptime
async def test_chatter_shorter_than_the_debounce_is_ignored(factory, hub, panel):
    p = pin(factory, "stop")
    for _ in range(3):
        p.drive_low()
        await asyncio.sleep(0.01)
        p.drive_high()
        await asyncio.sleep(0.1)
    await asyncio.sleep(2.0)
    assert hub.sent == []


@pytest.mark.looptime
async def test_start_pause_starts_pauses_and_resumes(factory, hub, panel):
    await tap(factory, "start_pause")
    assert hub.state["mode"] == "running"
    await tap(factory, "start_pause")
    assert hub.state["mode"] == "paused"
    await tap(factory, "start_pause")
    assert hub.state["mode"] == "running"
    assert hub.names() == ["start", "pause", "resume"]


@pytest.mark.parametrize("mode", ["completed", "stopped"])
@pytest.mark.looptime
async def test_start_pause_after_a_session_ended_starts_a_new_one(factory, hub, panel, mode):
    hub.state["mode"] = mode
    await tap(factory, "start_pause")
    assert hub.names() == ["start"]


@pytest.mark.parametrize("mode, reason", [("fault", "acknowledge"), ("lockout", "technician")])
@pytest.mark.looptime
async def test_start_is_refused_with_a_chirp_after_a_fault_or_in_a_lockout(factory, hub, panel, feedback,
                                                                            mode, reason):
    hub.state.update(mode=mode, lockout=mode == "lockout")
    await tap(factory, "start_pause")
    assert hub.sent == []
    assert not panel.last_result.ok and reason in panel.last_result.error
    assert feedback.kinds() == ["refused"]


@pytest.mark.looptime
async def test_stop_fires_on_press_without_waiting_for_a_long_press(factory, hub, panel):
    await tap(factory, "start_pause")
    pin(factory, "stop").drive_low()
    await asyncio.sleep(SETTLE_S)
    assert hub.names() == ["start", "stop"]  # still held: stop is already sent
    assert hub.state["mode"] == "stopped"
    pin(factory, "stop").drive_high()


@pytest.mark.looptime
async def test_holding_stop_after_a_fault_stops_then_acknowledges_once(factory, hub, panel):
    hub.state.update(mode="fault", faults=[fault("overpressure", "stop")])
    p = pin(factory, "stop")
    p.drive_low()
    await asyncio.sleep(1.4)
    assert hub.names() == ["stop"]
    await asyncio.sleep(0.2)  # 1.6 s held
    assert hub.names() == ["stop", "ack"]
    await asyncio.sleep(5.0)  # keep holding: no repeats
    p.drive_high()
    await asyncio.sleep(1.0)
    assert hub.names() == ["stop", "ack"]
    assert hub.state["mode"] == "idle"


@pytest.mark.looptime
async def test_a_short_stop_press_does_not_acknowledge(factory, hub, panel):
    hub.state.update(mode="fault", faults=[fault("overpressure", "stop")])
    await tap(factory, "stop", hold_s=1.0, after_s=2.0)
    assert hub.names() == ["stop"]
    assert hub.state["mode"] == "fault"


@pytest.mark.looptime
async def test_a_long_stop_cannot_clear_a_lockout(factory, hub, panel, feedback):
    hub.state.update(mode="lockout", lockout=True,
                     faults=[fault("heater_stuck_on", "lockout")])
    await tap(factory, "stop", hold_s=2.0)
    assert hub.names() == ["stop"]
    assert not panel.last_result.ok and "technician" in panel.last_result.error
    assert feedback.kinds() == ["refused"]


@pytest.mark.looptime
async def test_a_refused_stop_when_nothing_runs_is_not_chirped(factory, hub, panel, feedback):
    hub.refuse.add("stop")
    await tap(factory, "stop")
    assert hub.names() == ["stop"]
    assert feedback.events == []


@pytest.mark.looptime
async def test_intensity_selection_clamps_at_1_and_5_when_idle(factory, hub, panel, feedback):
    for _ in range(4):
        await tap(factory, "intensity_up")
    assert panel.intensity == 5
    assert hub.sent == []  # idle: only the selection changes
    assert feedback.kinds() == ["selection", "selection", "refused", "refused"]  # 4, 5, then the limit
    assert [e["count"] for e in feedback.events[:2]] == [4, 5]
    for _ in range(6):
        await tap(factory, "intensity_down")
    assert panel.intensity == 1
    await tap(factory, "start_pause")
    assert hub.sent[-1].intensity == 1


@pytest.mark.looptime
async def test_intensity_during_a_session_sends_set_intensity_up_to_5(factory, hub, panel):
    await tap(factory, "start_pause")
    for _ in range(4):
        await tap(factory, "intensity_up")
    sent = [c.intensity for c in hub.sent if c.command == "set_intensity"]
    assert sent == [4, 5]
    assert hub.state["intensity"] == 5
    assert not panel.last_result.ok  # the fourth press: already at the maximum


@pytest.mark.looptime
async def test_holding_intensity_repeats_every_0_4_s_and_stops_at_the_limit(factory, hub, panel):
    hub.state.update(mode="running", intensity=1)
    p = pin(factory, "intensity_up")
    p.drive_low()
    await asyncio.sleep(1.0)  # press (2), 0.8 s (3)
    assert [c.intensity for c in hub.sent] == [2, 3]
    await asyncio.sleep(3.0)  # 1.2 s (4), 1.6 s (5), then the limit
    p.drive_high()
    await asyncio.sleep(0.5)
    assert [c.intensity for c in hub.sent] == [2, 3, 4, 5]
    gaps = [b - a for a, b in zip(hub.sent_at[1:], hub.sent_at[2:])]
    assert gaps == [pytest.approx(0.4, abs=0.01)] * 2


@pytest.mark.looptime
async def test_intensity_adopts_a_change_made_elsewhere(factory, hub, panel):
    await tap(factory, "start_pause")
    hub.state["intensity"] = 1  # changed over MQTT meanwhile
    await tap(factory, "intensity_up")
    assert hub.sent[-1].intensity == 2


@pytest.mark.parametrize("name", ["start_pause", "heat", "program", "power"])
@pytest.mark.looptime
async def test_other_buttons_fire_once_however_long_they_are_held(factory, hub, panel, feedback, name):
    p = pin(factory, name)
    p.drive_low()
    await asyncio.sleep(4.0)
    p.drive_high()
    await asyncio.sleep(0.5)
    if name == "start_pause":
        assert hub.names() == ["start"]
    elif name == "heat":
        assert panel.heat is False and hub.sent == []
    elif name == "program":
        assert panel.selected_program == "calf_focus" and feedback.kinds() == ["selection"]
    else:  # power: a long hold is standby, once
        assert panel.standby and hub.sent == []


@pytest.mark.looptime
async def test_heat_toggles_the_selection_when_idle_and_the_session_when_running(factory, hub, panel):
    await tap(factory, "heat")
    assert panel.heat is False and hub.sent == []
    await tap(factory, "start_pause")
    assert hub.sent[-1].heat is False
    await tap(factory, "heat")
    assert hub.names()[-1] == "set_heat" and hub.sent[-1].on is True
    await tap(factory, "heat")
    assert hub.sent[-1].on is False and hub.state["heat_on"] is False


@pytest.mark.looptime
async def test_program_cycles_when_idle_with_a_beep_count_and_is_refused_in_a_session(factory, hub, panel,
                                                                                       feedback):
    assert panel.selected_program == "quick_circulation"
    await tap(factory, "program")
    await tap(factory, "program")
    assert panel.selected_program == "lymphatic"
    assert [e["count"] for e in feedback.events] == [2, 3]
    await tap(factory, "program")
    assert panel.selected_program == "quick_circulation"  # wraps around
    await tap(factory, "program")
    await tap(factory, "start_pause")
    assert hub.sent[-1].program == "calf_focus"
    await tap(factory, "program")
    assert panel.selected_program == "calf_focus"
    assert feedback.kinds()[-1] == "refused"


@pytest.mark.looptime
async def test_power_hold_stops_the_session_and_standby_ignores_buttons_until_power(factory, hub, panel):
    await tap(factory, "start_pause")
    await tap(factory, "power", hold_s=1.4)
    assert not panel.standby  # too short for standby
    await tap(factory, "power", hold_s=1.6)
    assert panel.standby
    assert hub.names() == ["start", "stop"]
    for name in ("start_pause", "program", "intensity_up", "intensity_down", "heat"):
        await tap(factory, name)
    assert hub.names() == ["start", "stop"]
    assert (panel.selected_program, panel.intensity, panel.heat) == ("quick_circulation", 3, True)
    await tap(factory, "power", hold_s=0.1)  # a short press wakes
    assert not panel.standby
    await tap(factory, "start_pause")
    assert hub.names() == ["start", "stop", "start"]


@pytest.mark.looptime
async def test_stop_still_works_in_standby(factory, hub, panel):
    await tap(factory, "power", hold_s=2.0)
    assert panel.standby
    hub.state["mode"] = "running"  # started remotely while the panel sleeps
    await tap(factory, "stop")
    assert hub.names() == ["stop"] and hub.state["mode"] == "stopped"


@pytest.mark.looptime
async def test_a_refused_command_sounds_the_refused_chirp(factory, hub, buttons):
    class Buzzer:
        def __init__(self):
            self.on = False

        def set(self, on):
            self.on = on

    outputs = PanelOutputs({}, Buzzer())
    panel = Panel(hub, buttons, outputs=outputs)
    hub.refuse.add("start")
    loop = asyncio.get_running_loop()
    pin(factory, "start_pause").drive_low()
    await asyncio.sleep(SETTLE_S)
    t0 = loop.time()
    assert hub.names() == ["start"]
    assert not panel.last_result.ok and "refused by the machine" in panel.last_result.error
    heard = [outputs.buzzer_on(t0 + i * 0.01) for i in range(40)]
    chirps = sum(1 for a, b in zip([False] + heard, heard) if b and not a)
    assert chirps == 2 and REFUSED[0][0]
    panel.close()


@pytest.mark.looptime
async def test_a_button_held_at_start_up_does_nothing_until_pressed_again(factory, hub, buttons):
    pin(factory, "start_pause").drive_low()
    panel = Panel(hub, buttons)
    await asyncio.sleep(3.0)
    pin(factory, "start_pause").drive_high()
    await asyncio.sleep(0.2)
    assert hub.sent == []
    await tap(factory, "start_pause")
    assert hub.names() == ["start"]
    panel.close()


@pytest.mark.looptime
async def test_edges_from_gpiozero_threads_reach_the_loop(factory, hub, panel):
    def press_from_another_thread():
        pin(factory, "start_pause").drive_low()

    t = threading.Thread(target=press_from_another_thread)
    t.start()
    t.join()
    await asyncio.sleep(0.2)
    assert hub.names() == ["start"]


@pytest.mark.looptime
async def test_close_detaches_the_buttons(factory, hub, buttons):
    panel = Panel(hub, buttons)
    task = asyncio.create_task(panel.run())
    await asyncio.sleep(0)
    pin(factory, "intensity_up").drive_low()  # a repeat timer would keep going
    await asyncio.sleep(0.1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    count = len(hub.sent)
    pin(factory, "intensity_up").drive_high()
    await tap(factory, "start_pause")
    await asyncio.sleep(3.0)
    assert len(hub.sent) == count and "start" not in hub.names()


@pytest.mark.looptime
async def test_panel_made_outside_the_loop_works_once_run(factory, hub, buttons):
    panel = await asyncio.to_thread(Panel, hub, buttons)  # no running loop in that thread
    task = asyncio.create_task(panel.run())
    await asyncio.sleep(0)
    await tap(factory, "start_pause")
    assert hub.names() == ["start"]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
