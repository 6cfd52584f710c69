"""Run inside the Home Assistant venv (``ha_env``): validate a device discovery payload with
Home Assistant's own code, and render its templates. Reads JSON on stdin, writes JSON.

In: ``{"payload": <device discovery payload>, "states": [<state JSON>, ...]}``.
Out: ``{"version": ..., "newer_abbreviations": [...], "components": {id: {"platform", "error", "dropped": [...]}},
"renders": {id: {option: [rendered per state]}}, "commands": {id: {option: text}}}``.

How Home Assistant reads a device payload (2024.11 and later, ``mqtt/discovery.py``): it
expands the abbreviations of the root, the device and the origin blocks, gives every
component the root's shared options (availability, state and command topics), the device
and the origin, takes ``platform`` off it and validates the rest with that platform's
``DISCOVERY_SCHEMA`` (``extra=REMOVE_EXTRA``: unknown keys are dropped, not refused). This
release (2024.1) predates device discovery, so that merge is done here as the newer releases
do it; the per-platform schemas are this release's own.
"""

from __future__ import annotations

import importlib
import json
import sys

# Home Assistant's import order: its http component needs persistent_notification loaded first.
import homeassistant.components.persistent_notification  # noqa: F401
from homeassistant.components.mqtt.abbreviations import ABBREVIATIONS, DEVICE_ABBREVIATIONS, ORIGIN_ABBREVIATIONS
from homeassistant.const import __version__
import jinja2

#: the root options that device discovery passes on to each component (discovery.py SHARED_OPTIONS)
SHARED_OPTIONS = ("availability", "availability_mode", "availability_template", "availability_topic",
                  "command_topic", "payload_available", "payload_not_available", "state_topic")
TEMPLATES = ("value_template", "json_attributes_template")
#: abbreviations newer than this release: device discovery's (2024.11) and default_entity_id's
#: (2025.10); used only where this release's own table lacks them, and reported
NEWER_ABBREVIATIONS = {"cmps": "components", "p": "platform", "def_ent_id": "default_entity_id"}


def expand(options: dict, table: dict) -> dict:
    return {table.get(k, k): v for k, v in options.items()}


def main() -> None:
    data = json.load(sys.stdin)
    newer = {k: v for k, v in NEWER_ABBREVIATIONS.items() if k not in ABBREVIATIONS}
    table = {**newer, **ABBREVIATIONS}
    root = expand(data["payload"], table)
    device = expand(root.pop("device"), DEVICE_ABBREVIATIONS)
    origin = expand(root.pop("origin"), ORIGIN_ABBREVIATIONS)
    shared = {k: v for k, v in root.items() if k in SHARED_OPTIONS}
    env = jinja2.Environment()
    out: dict = {"version": __version__, "newer_abbreviations": sorted(newer), "components": {}, "renders": {}, "commands": {}}
    for cid, raw in root["components"].items():
        config = {**shared, **expand(raw, table), "device": device, "origin": origin}
        platform = config.pop("platform")
        schema = importlib.import_module(f"homeassistant.components.mqtt.{platform}").DISCOVERY_SCHEMA
        entry: dict = {"platform": platform, "error": None, "dropped": []}
        try:
            validated = schema(dict(config))
        except Exception as err:  # noqa: BLE001 - reported to the test, which fails on it
            entry["error"] = f"{type(err).__name__}: {err}"
        else:
            entry["dropped"] = sorted(set(config) - set(validated))
            entry["qos"] = validated.get("qos")
        out["components"][cid] = entry
        renders = {}
        for option in TEMPLATES:
            if option in config:
                template = env.from_string(config[option])
                renders[option] = [template.render(value_json=state, value=json.dumps(state))
                                   for state in data["states"]]
        out["renders"][cid] = renders
        commands = {}
        if "command_template" in config:
            options = config.get("options") or [config.get("min", 1)]
            commands["command_template"] = [env.from_string(config["command_template"]).render(value=v)
                                            for v in options]
        for option in ("payload_press", "payload_on", "payload_off"):
            if option in config:
                commands[option] = [config[option]]
        out["commands"][cid] = commands
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
