"""The lock files in requirements/ pin every dependency pyproject.toml declares (refresh: `bash scripts/lock`)."""
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^ \\;]+)", re.M)


def pins(name):
    return {canonicalize_name(n): v for n, v in PIN.findall((ROOT / "requirements" / name).read_text())}


def unpinned(requirements, locked):
    missing = []
    for line in requirements:
        req = Requirement(line)
        version = locked.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            missing.append(f"{line} (locked: {version})")
    return missing


def test_the_runtime_lock_pins_every_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert unpinned(project["dependencies"], pins("runtime.txt")) == [], "run `bash scripts/lock`"


def test_the_test_lock_pins_the_test_extras_at_the_runtime_versions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, test = pins("runtime.txt"), pins("test.txt")
    assert unpinned(project["dependencies"] + project["optional-dependencies"]["test"], test) == [], "run `bash scripts/lock`"
    assert {name: test.get(name) for name in runtime} == runtime
