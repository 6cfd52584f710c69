"""`python -m bench [names...]`: run the benchmarks, print tables, write bench/results.json.

Names: control, faults, mqtt, fleet, plants, speed, bus (default: all). ``speed --baseline REV`` runs
``full_leg`` at ``--speed 0`` side by side with the tree at REV (default: the last pre-renovation commit).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import platform
import sys
import time
from pathlib import Path

SUITES = {"control": "bench.control", "faults": "bench.faults", "mqtt": "bench.mqtt_latency", "fleet": "bench.fleet",
          "plants": "bench.plants", "speed": "bench.speed", "bus": "bench.bus"}


def print_table(title: str, rows: list[dict]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    for r in rows[1:]:
        cols += [c for c in r if c not in cols]
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def print_result(name: str, result) -> None:
    if isinstance(result, dict):
        for key, value in result.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                print_table(f"{name}: {key}", value)
            elif isinstance(value, dict):
                print_table(f"{name}: {key}", [value])
            else:
                print(f"{name}: {key} = {value}")
    elif isinstance(result, list):
        print_table(name, result)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("names", nargs="*", help="suites to run: " + ", ".join(SUITES) + " (default: all)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    ap.add_argument("--baseline", help="speed: the commit to compare against (default: bench.speed.BASELINE)")
    ap.add_argument("--rounds", type=int, help="speed: alternating runs per tree (default: bench.speed.ROUNDS)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = {"machine": platform.machine(), "python": platform.python_version(),
               "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    for name in args.names or list(SUITES):
        if name not in SUITES:
            ap.error(f"unknown suite {name!r} (known: {', '.join(SUITES)})")
        t0 = time.perf_counter()
        module = importlib.import_module(SUITES[name])
        if name == "speed":
            kw = {k: v for k, v in (("baseline", args.baseline), ("rounds", args.rounds)) if v is not None}
            result = module.run(**kw)
        else:
            result = module.run_real() if hasattr(module, "run_real") else module.run()
        results[name] = result
        print_result(name, result)
        print(f"({name}: {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
