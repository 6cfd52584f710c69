"""The guide's toe pulls and light leg stretch, on the simulated machine: the person is told
what to do (a notice in the guide's words: the panel chirps and blinks, MQTT and the socket get
the event and the state), and while they do it every sleeve is vented, the pump and every
roller are off (a roller on its soft-stop ramp, a chamber on the proximal-first vent, within
their bounds at the step's start), and the pads keep the step's heat."""

from __future__ import annotations

import pytest

from controller.interfaces.panel_signals import PROMPT, PROMPT_PERIOD_S, PanelOutputs, led_pattern, pattern_for
from controller.model.notice import NoticeCode
from tests.machine.simrun import shared_session
from tests.machine.test_programs_complete import CFG, PROGRAMS

#: the proximal-first vent (the gradient rule) may keep a distal vent shut this long while the
#: chambers above it empty (compression.VENT_STAGING_ALLOWANCE_S)
STAGING_S = 3.0
EMPTY_BY_S = 8.0  # ... and every chamber is below the vent check's 10 mmHg by then
#: a roller runs down to a stop on its soft-stop ramp (a hard stop jerks the leg), full speed
#: to zero in this long
ROLLER_STOP_S = 1.0 / CFG.roller_control.ramp_per_s
PROMPTED = sorted(pid for pid, p in PROGRAMS.items() if any(ph.prompt is not None for ph in p.phases))


def prompt_spans(program) -> list[tuple[str, float, float, object]]:
    spans, t = [], 0.0
    for phase in program.phases:
        if phase.prompt is not None:
            spans.append((phase.name, t, t + phase.duration_s, phase))
        t += phase.duration_s
    return spans


def test_the_prompted_programs_are_the_ones_the_guide_needs():
    assert PROMPTED == ["foot_focus", "full_leg", "recovery"]


@pytest.mark.parametrize("program", PROMPTED)
def test_during_a_prompt_step_the_sleeves_vent_and_the_rollers_stop(tmp_path_factory, program):
    """On the default unit's shared session (intensity 3): its events, its trace, and the state
    a person sees in the middle of each prompt step and 1 s after it."""
    prog = PROGRAMS[program]
    run = shared_session(tmp_path_factory, program, 3)
    result, rows, events = run.result, run.rows, run.events
    seen = {view.name: view for view in run.phases if prog.phases[view.index].prompt is not None}
    assert result.report["outcome"] == "completed", result.report["faults"]
    t0 = float(rows[0]["t_s"])
    prompts = [e for e in events if e.get("type") == "notice" and e.get("code") == "guide_prompt"]
    assert len(prompts) == len(prompt_spans(prog))
    for (name, start, end, phase), event in zip(prompt_spans(prog), prompts):
        # the notice: the guide's words, the time, at the step's start
        assert phase.prompt.text in event["text"] and f"{phase.duration_s:g} s" in event["text"]
        assert "the sleeves stay empty" in event["text"] and event["panel_code"] == 9
        assert start <= event["t_s"] - t0 < start + 0.1, (name, event["t_s"] - t0)
        step = [r for r in rows if start <= float(r["t_s"]) - t0 < end]
        assert len(step) > 40 * phase.duration_s
        for row in step:
            t = float(row["t_s"]) - t0 - start
            assert float(row["pump_duty"]) == 0.0, (name, t)
            for z in CFG.chamber_names:
                assert row[f"chamber.{z}.fill_open"] == "0" and float(row[f"chamber.{z}.target_mmhg"]) == 0.0, (z, t)
                if t >= STAGING_S:
                    assert row[f"chamber.{z}.vent_open"] == "1", (name, z, t)
                if t >= EMPTY_BY_S:
                    assert float(row[f"chamber.{z}.pressure_mmhg"]) < 10.0, (name, z, t)
            for z in CFG.roller_names:
                speed = abs(float(row[f"roller.{z}.speed"]))
                assert speed <= max(0.0, 1.0 - t / ROLLER_STOP_S) + 1e-6, (name, z, t, speed)  # running down
                if t >= ROLLER_STOP_S:
                    assert speed == 0.0, (name, z, t)
            for z in CFG.pad_names:  # the pads keep the step's heat
                pad = next(p for p in CFG.pads if p.zone == z)
                want = phase.heat_c.get(pad.position)
                got = row[f"pad.{z}.target_c"]
                assert (float(got) if got else None) == want, (name, z, t)
        # the state a person sees meanwhile: the prompt is the newest notice; the run LED
        # blinks at 1 Hz instead of shining steady, and the fault LED stays dark
        snap, at_s = seen[name].middle, seen[name].middle_t_s
        assert snap.notice is not None and snap.notice.code == NoticeCode.GUIDE_PROMPT
        assert snap.notice_text == event["text"]
        lit = [led_pattern(snap, at_s + i / 10)["run"] for i in range(int(PROMPT_PERIOD_S * 10))]
        assert any(lit) and not all(lit)
        assert not any(led_pattern(snap, at_s + i / 10)["fault"] for i in range(50))
        # and the prompt leaves the state when its step ends (a session's end too)
        after = seen[name].after
        assert after is None or not [n for n in after.notices if n.code == NoticeCode.GUIDE_PROMPT], name
    assert len(seen) == len(prompt_spans(prog))
    assert sum(view.after is not None for view in seen.values()) >= len(seen) - 1  # (the last step may end the session)


def test_the_panel_chirps_for_a_prompt():
    class Switch:
        on = False

        def set(self, on):
            self.on = on

    event = {"type": "notice", "code": "guide_prompt", "panel_code": 9, "text": "Your turn"}
    assert pattern_for(event)[0] == PROMPT
    outputs = PanelOutputs({}, Switch())
    outputs.on_event(event, 0.0)
    heard = []
    for i in range(100):
        heard.append(outputs.buzzer_on(i / 100))
    assert sum(1 for a, b in zip([False] + heard, heard) if b and not a) == 3  # a triple chirp
    assert sum(heard) <= 35  # short chirps, not the notice code's long beep
