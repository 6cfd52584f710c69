"""Home Assistant MQTT discovery for the machine: one device, built from the config.

Pure functions, no I/O: the bridge publishes what these return, and tests check it against
Home Assistant's documented schema without a broker.

Why device-based discovery (``<prefix>/device/<id>/config`` with ``dev``, ``o`` and ``cmps``):
one retained message describes the whole machine, so the device block, the origin and the
availability binding are stated once and cannot drift apart between entities. Every entity
reads the one retained ``state`` JSON through a value template and writes the one ``cmd``
topic with a JSON command, so Home Assistant goes through exactly the same validation
(``parse_command`` with ``Source.MQTT``) as any other remote client: it can start, pause,
stop and adjust, never clear a lockout or drive an output.

Which values become entities, and their names, units, device classes and precision, come from
``controller.model.values`` (declared once for discovery, the state and ``legctl``); what is
Home Assistant's alone (templates, icons, platforms) is spelled here.

Keys use Home Assistant's documented abbreviations throughout (``stat_t``, ``uniq_id``, ...);
``default_entity_id`` (``def_ent_id``) is used, not the retired ``object_id``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from controller.model.config import MqttSettings
from controller.model.profile import FIELDS as PROFILE_FIELDS, describe_key
from controller.model.values import BY_KEY, ZONE_VALUES, Kind, Value, Zone

ORIGIN_NAME = "legtherapy"
MANUFACTURER = "legtherapy"
MODEL = "Leg therapy machine (compression, heat, rollers)"

#: MQTT QoS of every entity's state and commands: at least once (a lost ``stop`` is not fine)
QOS = 1

#: zone names end up inside Jinja templates and entity ids: keep them to a safe alphabet
_ZONE_NAME = re.compile(r"^[A-Za-z0-9_ -]{1,64}$")


def base_topic(settings: MqttSettings) -> str:
    return f"{settings.base_topic}/{settings.device_id}"


def topics(settings: MqttSettings) -> dict[str, str]:
    """Every topic the bridge uses, by role; the one place topic names are spelled."""
    base = base_topic(settings)
    return {
        "availability": f"{base}/availability",
        "state": f"{base}/state",
        "event": f"{base}/event",
        "cmd": f"{base}/cmd",
        "cmd_result": f"{base}/cmd/result",
        "discovery": f"{settings.discovery_prefix}/device/{settings.device_id}/config",
        "ha_status": f"{settings.discovery_prefix}/status",
    }


def slug(text: str) -> str:
    """``Left-Foot 1`` -> ``left_foot_1``: the alphabet of entity ids and component ids."""
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", text.lower())).strip("_")


def _label(zone: str) -> str:
    return zone.replace("_", " ").replace("-", " ").strip().capitalize()


def _cmd(**fields: Any) -> str:
    """A JSON command exactly as ``parse_command`` expects it (compact, stable key order)."""
    return json.dumps(fields, separators=(",", ":"))


def _field(collection: str, zone: str, key: str) -> str:
    # json.dumps gives a double-quoted literal, which Jinja reads as the same string
    return f"{{{{ value_json.{collection}[{json.dumps(zone)}].{key} }}}}"


def discovery_messages(
    settings: MqttSettings,
    pad_names: Iterable[str],
    chamber_names: Iterable[str],
    roller_names: Iterable[str],
    programs: list[dict],
    sw_version: str,
    legs: Iterable[str] = ("left", "right"),
) -> list[tuple[str, dict]]:
    """The discovery messages for this machine: ``[(topic, payload), ...]`` (retain them).

    ``programs`` are ``programs.library.describe()`` dicts (``id``, ``name``, ...). Raises
    ``ValueError`` for a zone name that cannot be used safely in a template or would collide
    after slugging.
    """
    t = topics(settings)
    dev_slug = slug(settings.device_id)
    pads, chambers, rollers = list(pad_names), list(chamber_names), list(roller_names)
    _check_zone_names(pads, chambers, rollers)
    program_ids = [str(p["id"]) for p in programs if p.get("id")]

    cmps: dict[str, dict] = {}

    def add(key: str, platform: str, name: str, **options: Any) -> None:
        if key in cmps:
            raise ValueError(f"discovery: component {key!r} defined twice")
        cmps[key] = {
            "p": platform,
            "name": name,
            "uniq_id": f"{dev_slug}_{key}",
            "def_ent_id": f"{platform}.{dev_slug}_{key}",
            # per component: before 2026.6 Home Assistant does not pass the root's qos on to
            # the components of a device payload, and commands would go out at QoS 0
            "qos": QOS,
            **options,
        }

    def sensor(key: str, name: str, template: str, **options: Any) -> None:
        add(key, "sensor", name, stat_t=t["state"], val_tpl=template, **options)

    for family, zones in ((Zone.PAD, pads), (Zone.CHAMBER, chambers), (Zone.ROLLER, rollers)):
        for value in ZONE_VALUES[family]:
            if value.entity is None:
                continue
            for zone in zones:
                sensor(f"{slug(zone)}_{value.entity}", f"{_label(zone)} {value.label}",
                       _field(family.value, zone, value.key), **_sensor_options(value))

    mode, remaining, problem_text, problem = (BY_KEY[k] for k in ("mode", "remaining_s", "problem_text", "problem"))
    sensor(mode.entity, mode.label, f"{{{{ value_json.{mode.key} }}}}", ic="mdi:state-machine")
    sensor(remaining.entity, remaining.label,
           "{{ value_json.remaining_s | round(0) if value_json.remaining_s is number else 'None' }}",
           **_sensor_options(remaining))
    sensor(problem_text.entity, problem_text.label, "{{ (value_json.problem_text or 'OK')[:255] }}",
           ic="mdi:alert-circle-outline", **_sensor_options(problem_text))
    add(problem.entity, "binary_sensor", problem.label, stat_t=t["state"], dev_cla="problem",
        val_tpl="{{ 'ON' if value_json.problem else 'OFF' }}", pl_on="ON", pl_off="OFF",
        json_attr_t=t["state"],
        json_attr_tpl='{{ {"problem_text": value_json.problem_text, "faults": value_json.faults,'
                      ' "lockout": value_json.lockout} | tojson }}')

    _add_session_components(add, t)
    _add_service_components(add, t, list(legs))
    program, intensity, heat = (BY_KEY[k] for k in ("selected_program", "intensity", "heat_on"))
    if program_ids:
        # Choosing is a setting, not an action: scenes, automations and voice commands set
        # selects, and that must never start therapy. Start starts the chosen program.
        add(program.entity, "select", program.label, cmd_t=t["cmd"],
            cmd_tpl='{"command":"select_program","program":"{{ value }}"}',
            stat_t=t["state"],
            val_tpl="{{ value_json.selected_program or value_json.program or 'None' }}",
            ops=program_ids, ic="mdi:format-list-bulleted")
        add("start", "button", "Start", cmd_t=t["cmd"], pl_prs=_cmd(command="start"), ic="mdi:play")
    add("pause", "button", "Pause", cmd_t=t["cmd"], pl_prs=_cmd(command="pause"), ic="mdi:pause")
    add("resume", "button", "Resume", cmd_t=t["cmd"], pl_prs=_cmd(command="resume"), ic="mdi:play-pause")
    add("stop", "button", "Stop", cmd_t=t["cmd"], pl_prs=_cmd(command="stop"), ic="mdi:stop")
    add(intensity.entity, "number", intensity.label, cmd_t=t["cmd"],
        cmd_tpl='{"command":"set_intensity","intensity":{{ value|int }}}',
        stat_t=t["state"], val_tpl="{{ value_json.intensity }}",
        min=1, max=5, step=1, mode="slider", ic="mdi:gauge")
    add(heat.entity, "switch", heat.label, cmd_t=t["cmd"],
        pl_on=_cmd(command="set_heat", on=True), pl_off=_cmd(command="set_heat", on=False),
        stat_t=t["state"], val_tpl="{{ 'ON' if value_json.heat_on else 'OFF' }}",
        stat_on="ON", stat_off="OFF", ic="mdi:heat-wave")

    # The person's profile: one switch per condition. Turning one on applies at once; turning
    # one off only asks (``set_profile`` from MQTT): it waits for a person at the machine to
    # confirm at the panel, and the switch stays on until then.
    for key in PROFILE_FIELDS:
        add(f"profile_{key}", "switch", f"Profile: {describe_key(key)}", cmd_t=t["cmd"],
            pl_on=_cmd(command="set_profile", **{key: True}), pl_off=_cmd(command="set_profile", **{key: False}),
            stat_t=t["state"], val_tpl=f"{{{{ 'ON' if value_json.profile.{key} else 'OFF' }}}}",
            stat_on="ON", stat_off="OFF", ic="mdi:account-alert")
    confirmed, pending, notice = (BY_KEY[k] for k in ("profile_confirmed", "profile_pending", "notice_text"))
    add(confirmed.entity, "binary_sensor", confirmed.label, stat_t=t["state"],
        val_tpl="{{ 'ON' if value_json.profile_confirmed else 'OFF' }}", pl_on="ON", pl_off="OFF",
        ic="mdi:account-check")
    add(pending.entity, "binary_sensor", pending.label, stat_t=t["state"],
        val_tpl="{{ 'ON' if value_json.profile_pending else 'OFF' }}", pl_on="ON", pl_off="OFF",
        ic="mdi:account-clock", json_attr_t=t["state"],
        json_attr_tpl='{{ {"profile_pending": value_json.profile_pending} | tojson }}')
    sensor(notice.entity, notice.label,
           "{{ (value_json.notice_text or 'None')[:255] }}",
           ic="mdi:message-alert-outline", json_attr_t=t["state"],
           json_attr_tpl='{{ {"notice": value_json.notice, "notices": value_json.notices} | tojson }}')

    payload = {
        "dev": {
            "ids": [f"legtherapy_{dev_slug}"],
            "name": f"Leg therapy {settings.device_id}",
            "mf": MANUFACTURER,
            "mdl": MODEL,
            "sw": sw_version,
        },
        "o": {"name": ORIGIN_NAME, "sw": sw_version},
        "avty_t": t["availability"],
        "pl_avail": "online",
        "pl_not_avail": "offline",
        "qos": QOS,
        "cmps": cmps,
    }
    return [(t["discovery"], payload)]


def _add_session_components(add, t: dict[str, str]) -> None:
    """How the last session went: program, outcome and minutes in one sensor's state, each
    also an attribute for automations (``state_attr(..., 'minutes')``)."""
    last = BY_KEY["last_session"]
    add(last.entity, "sensor", last.label, stat_t=t["state"],
        val_tpl=("{% set s = value_json.last_session %}"
                 "{{ (s.program ~ ': ' ~ s.outcome ~ ', ' ~ s.minutes ~ ' min')[:255] if s else 'None' }}"),
        json_attr_t=t["state"], json_attr_tpl="{{ (value_json.last_session or {}) | tojson }}",
        ic="mdi:history")


def _add_service_components(add, t: dict[str, str], legs: list[str]) -> None:
    """The service record's pump health, and the daily record's minutes per leg today.

    Pump health is a measurement (its history shows a pump wearing), for a technician
    (diagnostic); its attributes carry the reference and the earlier figure. Today's minutes
    count up through the day and start again at midnight: ``total_increasing``, which Home
    Assistant's statistics read as a new cycle at each reset."""
    pump = BY_KEY["pump_percent"]
    # (a null renders "None": Home Assistant's "unknown")
    add(pump.entity, "sensor", pump.label, stat_t=t["state"], val_tpl="{{ value_json.pump_percent }}",
        json_attr_t=t["state"], json_attr_tpl="{{ (value_json.service or {}) | tojson }}",
        ic="mdi:pump", **_sensor_options(pump))
    minutes = BY_KEY["minutes_today"]
    for leg in legs:
        if not _ZONE_NAME.match(leg):
            raise ValueError(f"discovery: leg name {leg!r} may only use letters, digits, '_', '-' and spaces")
        add(f"{slug(leg)}_{minutes.entity}", "sensor", f"{_label(leg)} leg {minutes.label}", stat_t=t["state"],
            val_tpl=f"{{{{ (value_json.minutes_today or {{}}).get({json.dumps(leg)}, 0) }}}}",
            **{**_sensor_options(minutes), "stat_cla": "total_increasing"})


def _sensor_options(value: Value) -> dict[str, Any]:
    """Home Assistant's options for a value, from its description: device class, unit, state
    class (a sensor reading is a measurement), display precision, diagnostic category."""
    options: dict[str, Any] = {}
    if value.quantity is not None:
        options["dev_cla"] = value.quantity
    if value.unit is not None:
        options["unit_of_meas"] = value.unit
    if value.kind is Kind.MEASURED:
        options["stat_cla"] = "measurement"
    if value.display_digits is not None:
        options["sug_dsp_prc"] = value.display_digits
    if value.diagnostic:
        options["ent_cat"] = "diagnostic"
    return options


def _check_zone_names(*families: list[str]) -> None:
    problems = []
    for family in families:
        seen: dict[str, str] = {}
        for zone in family:
            if not _ZONE_NAME.match(zone):
                problems.append(f"zone name {zone!r} may only use letters, digits, '_', '-' and spaces")
            elif slug(zone) in seen:
                problems.append(f"zone names {seen[slug(zone)]!r} and {zone!r} collide as {slug(zone)!r}")
            seen.setdefault(slug(zone), zone)
    if problems:
        raise ValueError("discovery: " + "; ".join(problems))
