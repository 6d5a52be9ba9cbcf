"""mypy passes with the project's [tool.mypy] settings (scripts/test runs it too, before pytest: this test
makes a landing that runs only pytest see a type error before main does)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_passes():
    done = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
