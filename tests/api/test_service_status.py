"""``legctl status``'s service line: the pump then and now, the leakiest chamber, a damaged record."""

from __future__ import annotations

import json

from controller.model.state import ChamberService, ServiceState, State
from legctl.format import service_lines, status_lines
from tests.fake_machine import make_state


def with_service(service: ServiceState | None) -> State:
    return make_state().model_copy(update={"service": service})


def test_the_line_compares_the_pump_with_20_sessions_before_and_names_the_leakiest_chamber():
    service = ServiceState(pump_percent=92.4, reference="rated", pump_percent_before=100.0, sessions_before=20,
                           sessions=21, leaks={"left_foot": ChamberService(leak_mmhg_per_s=0.41, times_commissioned=1.0),
                                               "left_thigh": ChamberService(leak_mmhg_per_s=0.8, times_commissioned=1.04),
                                               "right_calf": ChamberService(leak_mmhg_per_s=1.2, times_commissioned=None)})
    assert service_lines(with_service(service)) == [
        "service     pump: 92 % of rated flow (was 100 % 20 sessions ago); "
        "leak-down: left_thigh 0.8 mmHg/s at 40 mmHg (1.0× commissioned)"]
    assert service_lines(with_service(service))[0] in status_lines(with_service(service))


def test_uncommissioned_the_fastest_leak_is_shown_and_a_first_session_has_nothing_to_compare():
    service = ServiceState(pump_percent=58.0, reference="commissioned", sessions=1,
                           leaks={"left_foot": ChamberService(leak_mmhg_per_s=0.4),
                                  "right_thigh": ChamberService(leak_mmhg_per_s=0.9)})
    assert service_lines(with_service(service)) == [
        "service     pump: 58 % of commissioned flow; leak-down: right_thigh 0.9 mmHg/s at 40 mmHg"]


def test_nothing_measured_yet_and_a_damaged_record_are_said():
    assert service_lines(with_service(None)) == [
        "service     pump not measured yet (no session has filled a chamber at full pump duty)"]
    damaged = ServiceState(problem="service record service_record.json was damaged (x): kept as "
                                   "service_record.json.bad, a new record was started")
    assert service_lines(with_service(damaged)) == [
        "service     pump: not measured yet",
        "            service record service_record.json was damaged (x): kept as service_record.json.bad, "
        "a new record was started"]


def test_the_socket_json_reads_back_into_the_same_line():
    """``legctl`` validates the daemon's JSON into a State: the typed fields survive the trip."""
    service = ServiceState(pump_percent=70.0, pump_percent_before=95.0, sessions_before=3, sessions=4,
                           leaks={"left_calf": ChamberService(leak_mmhg_per_s=0.5, times_commissioned=2.5)})
    state = with_service(service).model_copy(update={"minutes_today": {"left": 12.5}})
    again = State.model_validate(json.loads(json.dumps(state.json_ready())))
    assert again.service == service and again.pump_percent == 70.0 and again.minutes_today == {"left": 12.5}
    assert service_lines(again) == [
        "service     pump: 70 % of rated flow (was 95 % 3 sessions ago); "
        "leak-down: left_calf 0.5 mmHg/s at 40 mmHg (2.5× commissioned)"]
