"""The layering of docs/architecture.md, checked: every import of every module of siyu/ follows it.

The imports are read with ast (inside functions too, so a reach-in cannot hide there), relative ones
resolved. `apps.get_model("<app>", …)` with a literal label counts as an import of that app. The
allowed graph is ALLOWED below; docs/architecture.md shows the same table (a test compares them).
"""
import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

import siyu

SIYU = Path(siyu.__file__).resolve().parent
DOC = SIYU.parent / "docs" / "architecture.md"

# The apps from the bottom up. An app imports core and the apps below it in this order, never one above
# it; analytics reads everything and only console, api and playbooks import it. (campaigns, automation,
# h5, api and playbooks are DESIGN.md's apps still to come: their place is kept.)
ORDER = ["core", "members", "groups", "links", "campaigns", "automation", "channels", "analytics", "console",
         "h5", "api", "playbooks"]
ANALYTICS_READERS = {"console", "api", "playbooks"}
ALLOWED = {
    app: {lower for lower in ORDER[:n] if lower != "analytics" or app in ANALYTICS_READERS}
    for n, app in enumerate(ORDER)
}
# Modules of the project itself (settings, URLs, the WSGI/ASGI entry points, the CLI), not apps.
PROJECT = {"settings", "urls", "wsgi", "asgi", "cli", "__init__", "__main__"}


def _app_of(module):
    """The app a dotted siyu module belongs to, or None for the project's own modules."""
    parts = module.split(".")
    if parts[0] != "siyu" or len(parts) < 2 or parts[1] in PROJECT:
        return None
    return parts[1]


def _modules():
    for path in sorted(SIYU.rglob("*.py")):
        relative = path.relative_to(SIYU.parent).with_suffix("")
        if "migrations" in relative.parts:
            continue
        module = ".".join(relative.parts)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        yield path, module.removesuffix(".__init__"), package.removesuffix(".__init__")


def _imports(path, package):
    """(line, imported module) for every import in the file, anywhere in it."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # `from siyu import members` imports the app members
                if module == "siyu":
                    yield node.lineno, f"siyu.{alias.name}"
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_model"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            label = node.args[0].value.partition(".")[0]
            yield node.lineno, f"siyu.{label}"


def _arrows():
    """{(from app, to app): [where, …]} over every module of siyu/."""
    arrows = defaultdict(list)
    for path, module, package in _modules():
        source = _app_of(module)
        if source is None:
            continue
        for line, imported in _imports(path, package):
            target = _app_of(imported)
            if target is not None and target != source:
                arrows[(source, target)].append(f"{path.relative_to(SIYU.parent)}:{line}")
    return arrows


def test_every_app_is_in_the_table():
    apps = {path.parent.name for path in SIYU.glob("*/apps.py")}
    assert apps <= set(ORDER), f"add {sorted(apps - set(ORDER))} to ORDER and to docs/architecture.md"


def test_no_import_crosses_the_layers_the_wrong_way():
    wrong = {
        f"{source} → {target}": places
        for (source, target), places in sorted(_arrows().items())
        if target not in ALLOWED[source]
    }
    assert wrong == {}, "imports docs/architecture.md forbids:\n" + "\n".join(f"  {k}: {', '.join(v)}" for k, v in wrong.items())


def test_the_named_rules_hold():
    arrows = _arrows()
    importers = defaultdict(set)
    for source, target in arrows:
        importers[target].add(source)
    assert not {target for source, target in arrows if source == "core"}, "core imports no app"
    assert not {target for source, target in arrows if source == "members"} - {"core"}, "members imports only core"
    assert ("links", "channels") not in arrows, "links does not import channels"
    assert importers["analytics"] <= ANALYTICS_READERS, "only console, api and playbooks import analytics"


def test_no_circle_between_apps():
    graph = defaultdict(set)
    for source, target in _arrows():
        graph[source].add(target)

    def reach(app, seen):
        for target in graph[app]:
            if target not in seen:
                seen.add(target)
                reach(target, seen)
        return seen

    circles = sorted(app for app in list(graph) if app in reach(app, set()))
    assert circles == [], f"apps on an import circle: {circles}"


def test_the_doc_shows_the_same_table():
    text = DOC.read_text()
    table = text[text.index("| app | may import |"):]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        app, allowed = (cell.strip() for cell in line.strip("|").split("|")[:2])
        rows[app.strip("`")] = set(re.findall(r"`(\w+)`", allowed))
    assert rows == ALLOWED


@pytest.mark.parametrize("source", ["from siyu.groups.models import Group", "from ..analytics import models",
                                    "apps.get_model('groups', 'Group')"])
def test_the_check_sees_reach_ins(tmp_path, source):
    path = tmp_path / "x.py"
    path.write_text(f"def f():\n    {source}\n")
    (imported,) = {_app_of(m) for _line, m in _imports(path, "siyu.members") if _app_of(m) not in (None, "members")}
    assert imported in ("groups", "analytics")
