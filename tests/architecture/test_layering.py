"""The house's import rules: packages by layer, imports only downward.

Each package may import only the packages listed for it (its own modules always). The rules:

    drivers                    (nothing of ours)
    sim                        (nothing of ours; chips modelled on their own, not via drivers)
    controller.model           nothing of ours but itself
    programs                   controller.model
    controller.storage         controller.model
    controller.safety          controller.model, controller.storage (the latch persists lockouts)
    controller.control         controller.model, programs
    controller.machine         everything below, drivers, and sim (board.py alone: the one switch point)
    controller.interfaces      controller.model, controller.machine.hub (the ways in and out meet the machine there)
    controller.app             everything in controller, programs, drivers, sim
    legctl                     controller.model (it talks to the daemon over the socket, not in-process)
    bench                      anything but tests
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MODEL = "controller.model"
ALLOWED: dict[str, set[str]] = {
    "drivers": set(),
    "sim": set(),
    MODEL: set(),
    "programs": {MODEL},
    "controller.storage": {MODEL},
    "controller.safety": {MODEL, "controller.storage"},
    "controller.control": {MODEL, "programs"},
    "controller.machine": {MODEL, "programs", "controller.storage", "controller.safety", "controller.control",
                           "drivers", "sim"},
    "controller.interfaces": {MODEL, "controller.machine.hub"},
    "controller.app": {MODEL, "programs", "controller.storage", "controller.safety", "controller.control",
                       "controller.machine", "controller.interfaces", "drivers", "sim"},
    "legctl": {MODEL},
    "bench": {"controller", "programs", "drivers", "sim", "legctl"},
}
OURS = ("controller", "programs", "drivers", "sim", "legctl", "bench", "tests")
#: the one place that may build the simulator instead of real hardware
SIM_SWITCH_POINT = "controller/machine/board.py"


def package_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts
    if parts[0] == "controller" and len(parts) > 2:
        return ".".join(parts[:2])
    return parts[0]


def our_imports(path: Path) -> set[str]:
    """Every module of ours the file imports (full dotted names), relative imports resolved."""
    found = set()
    pkg_parts = path.relative_to(ROOT).with_suffix("").parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg_parts[: len(pkg_parts) - node.level + 1] + ((base,) if base else ()))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in OURS)
    return found


def allowed(importer_pkg: str, module: str) -> bool:
    if module == importer_pkg or module.startswith(importer_pkg + "."):
        return True
    for target in ALLOWED[importer_pkg]:
        if module == target or module.startswith(target + "."):
            return True
    # "from controller.model import x" names the package itself; "controller" alone is never needed
    return False


def python_files() -> list[Path]:
    files = []
    for top in ("drivers", "sim", "programs", "controller", "legctl", "bench"):
        files += sorted((ROOT / top).rglob("*.py"))
    return [f for f in files if f.name != "__init__.py" or f.stat().st_size]


def test_every_package_has_a_rule():
    pkgs = {package_of(f) for f in python_files()} - {"controller"}
    assert pkgs <= set(ALLOWED), sorted(pkgs - set(ALLOWED))
    assert not list((ROOT / "controller").glob("*.py")) or \
        [p.name for p in (ROOT / "controller").glob("*.py")] == ["__init__.py"], "controller/ holds packages only"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_run_only_downward(package):
    offenders = {}
    for path in python_files():
        if package_of(path) != package:
            continue
        bad = sorted(m for m in our_imports(path) if not allowed(package, m)
                     and not (m.split(".")[0] == "controller" and m.count(".") == 0))
        if package == "controller.machine" and path.relative_to(ROOT).as_posix() != SIM_SWITCH_POINT:
            bad += sorted(m for m in our_imports(path) if m.split(".")[0] == "sim")
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}


def test_nothing_outside_tests_imports_tests():
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in our_imports(p) if m.split(".")[0] == "tests")
                 for p in python_files()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_simulator_models_chips_on_its_own():
    """sim/ never imports drivers/: a chip model written from the driver would share its bugs."""
    offenders = {str(p.relative_to(ROOT)) for p in (ROOT / "sim").rglob("*.py")
                 if any(m.split(".")[0] in ("drivers", "controller") for m in our_imports(p))}
    assert offenders == set()
