"""drivers/ and sim/ stay below controller/, and the simulator models chips on its own."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_top_packages(path: Path, package: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports stay inside their own package
                found.add(package)
            elif node.module:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    "package, forbidden",
    [("drivers", {"controller", "sim"}), ("sim", {"controller", "drivers"})],
)
def test_package_does_not_import(package, forbidden):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_packages(path, package) & forbidden)
        for path in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}
