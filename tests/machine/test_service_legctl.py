"""``legctl status`` and the socket's ``status`` against the real daemon (simulator) show the
service record kept in the state directory."""

from __future__ import annotations

import json

from tests.machine.test_legctl_daemon import Daemon
from tests.mqtt.test_service_entities import seed_records


def test_legctl_status_shows_the_pump_then_and_now_and_the_socket_carries_it(tmp_path):
    seed_records(tmp_path / "state")  # 99 % of rated flow 20 sessions ago, 58 % now; today's minutes
    daemon = Daemon(tmp_path)
    try:
        code, out, _ = daemon.ctl("status")
        assert code == 0
        assert ("service     pump: 58 % of rated flow (was 99 % 20 sessions ago); "
                "leak-down: left_thigh 0.8 mmHg/s at 40 mmHg") in out.splitlines()
        code, out, _ = daemon.ctl("status", "--json")
        state = json.loads(out)
        assert code == 0 and state["pump_percent"] == 58.0
        assert state["service"]["reference"] == "rated" and state["service"]["sessions"] == 21
        assert state["minutes_today"] == {"left": 12.5, "right": 7.0}
    finally:
        daemon.stop()
