"""The apps depend one way: ticketing on events and accounts, never back."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# An app may import only the apps listed for it (its own modules and the project package aside).
ALLOWED = {"accounts": set(), "events": set(), "ticketing": {"accounts", "events"}}


def imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name.split(".")[0] for name in names} & set(ALLOWED)


@pytest.mark.parametrize("app", sorted(ALLOWED))
def test_an_app_imports_only_the_apps_below_it(app):
    offending = {}
    for path in (ROOT / app).rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        wrong = imported_apps(path) - ALLOWED[app] - {app}
        if wrong:
            offending[str(path.relative_to(ROOT))] = sorted(wrong)
    assert offending == {}
