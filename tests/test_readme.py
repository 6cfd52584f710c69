"""The README's example runs as written and the readings move."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_simulator_example_runs_and_readings_move(tmp_path):
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    script = tmp_path / "demo.py"
    script.write_text(block)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          cwd=README.parent, env={"PYTHONPATH": str(README.parent), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    first = [float(x) for x in re.findall(r"(-?\d+\.\d+) (?:°C|mmHg|A)", lines[0])]
    last = [float(x) for x in re.findall(r"(-?\d+\.\d+) (?:°C|mmHg|A)", lines[-1])]
    assert last[0] > first[0] + 3  # the pad heated
    assert 40 < last[1] < 75  # the chamber filled to where the pump stalls
    assert last[2] > 0.2  # the roller draws current
