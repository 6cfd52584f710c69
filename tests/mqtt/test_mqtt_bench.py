"""The latency bench still runs and reports what it promises (the lead's bench runner calls it)."""

from __future__ import annotations

import pytest

from bench.mqtt_latency import run

pytestmark = [pytest.mark.looptime(False)]


def test_the_latency_bench_reports_latencies_and_the_flood(mqtt_broker):
    report = run(n=20, flood_n=100, broker=tuple(mqtt_broker))
    assert report["cmd_to_result_ms"]["n"] == 20
    assert 0 < report["cmd_to_result_ms"]["p50"] <= report["cmd_to_result_ms"]["p99"] < 1000
    assert report["cmd_to_actuator_ms"]["n"] > 0  # the stub machine reports its actuations
    flood = report["flood"]
    assert flood["received"] == 100 and flood["dropped_flood"] > 0
    assert flood["accepted"] + flood["refused"] + flood["dropped_flood"] == 100
    assert flood["tick_hz_during"] > 0.5 * flood["tick_hz_before"] > 0
