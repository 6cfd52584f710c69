"""A daily record per leg (minutes, programs, intensity) in the state directory, and a notice
when a leg's day passes what the guide suggests."""

import asyncio
import datetime as dt
import io
import json
import shutil
import tempfile

import pytest

from controller.interfaces.socket_api import SocketApi
from controller.machine.hub import MachineHub
from controller.model.config import SocketSettings
from controller.storage import write_behind
from controller.storage.daily_record import FILE_NAME, DailyRecord
from legctl.cli import main as legctl_main
from tests.machine.simrun import run_sim
from tests.machine.test_programs_complete import CFG, PROGRAMS

DAY = dt.date(2025, 3, 1)


def test_sessions_add_up_per_leg_and_survive_a_restart(tmp_path):
    rec = DailyRecord(tmp_path, today=lambda: DAY)
    rec.add_session(legs=["left", "right"], minutes=3.0, program="quick_circulation", intensity=3,
                    strokes={"left": 10, "right": 10})
    totals = rec.add_session(legs=["left", "right"], minutes=8.5, program="calf_focus", intensity=4,
                             strokes={"left": 5, "right": 5})
    assert totals == {"left": 11.5, "right": 11.5}
    assert write_behind.for_directory(tmp_path).flush(5.0)
    again = DailyRecord(tmp_path, today=lambda: DAY)
    assert again.minutes_today() == {"left": 11.5, "right": 11.5}
    rows = again.history()
    assert [(r["day"], r["leg"]) for r in rows] == [("2025-03-01", "left"), ("2025-03-01", "right")]
    assert rows[0]["programs"] == ["quick_circulation", "calf_focus"] and rows[0]["intensities"] == [3, 4]
    assert rows[0]["strokes"] == 15 and rows[0]["sessions"] == 2


@pytest.mark.parametrize("content", [b"{not json", b"[" * 5000, json.dumps({"days": {"x": {"middle": {}}}}).encode()])
def test_a_damaged_record_is_set_aside_not_fatal(tmp_path, content):
    (tmp_path / FILE_NAME).write_bytes(content)
    rec = DailyRecord(tmp_path, today=lambda: DAY)
    assert rec.history() == []
    assert (tmp_path / (FILE_NAME + ".bad")).read_bytes() == content


def test_a_session_is_recorded_and_passing_the_daily_amount_gives_a_notice(tmp_path):
    config = CFG.model_copy(update={"therapy": CFG.therapy.model_copy(update={"daily_minutes_per_leg_notice": 4.0})})
    state = tmp_path / "state"
    events = []

    collectors = []

    async def during(sup):  # returns at once: the collector runs beside the machine until it ends
        async def collect():
            with sup.hub.subscribe_events() as sub:
                async for event in sub:
                    events.append(event)

        collectors.append(asyncio.get_running_loop().create_task(collect()))

    for run in ("a", "b"):  # 3 minutes, then 6: the second passes 4 minutes
        result, _ = run_sim(tmp_path / run, program="quick_circulation", config=config, state_dir=state,
                            trace=False, during=during)
        assert result.report["outcome"] == "completed"
        if run == "a":
            assert not [e for e in events if e.get("type") == "notice"]
    write_behind.for_directory(state).flush(5.0)
    minutes = PROGRAMS["quick_circulation"].duration_s / 60.0
    today = DailyRecord(state).minutes_today()
    assert today == {"left": pytest.approx(2 * minutes, abs=0.05), "right": pytest.approx(2 * minutes, abs=0.05)}
    notices = [e for e in events if e.get("type") == "notice"]
    assert sorted(e["leg"] for e in notices) == ["left", "right"]
    assert all("5 to 10 minutes per leg daily" in e["message"] for e in notices)
    assert DailyRecord(state).history()[0]["strokes"] == 20  # ten a session, as the description says


@pytest.mark.looptime(False)
async def test_legctl_history_shows_the_record():
    folder = tempfile.mkdtemp(prefix="lt-", dir="/tmp")
    try:
        rec = DailyRecord(folder, today=lambda: DAY)
        rec.add_session(legs=["left", "right"], minutes=3.0, program="quick_circulation", intensity=3,
                        strokes={"left": 10, "right": 10})
        hub = MachineHub()
        hub.history_reader = rec.history
        path = f"{folder}/run/legtherapy.sock"
        api = SocketApi(SocketSettings(path=path, group=None), hub)
        await api.start()
        try:
            out, err = io.StringIO(), io.StringIO()
            code = await asyncio.wait_for(asyncio.to_thread(legctl_main, ["--socket", path, "history"], out=out,
                                                            err=err), 20)
            assert code == 0, err.getvalue()
            text = out.getvalue()
            assert "2025-03-01" in text and "left" in text and "quick_circulation (3)" in text and "3.0" in text
        finally:
            await api.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
