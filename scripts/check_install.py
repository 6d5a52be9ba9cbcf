"""What a fresh install without the test extras must do: import every module of siyu/ and import a GBK CSV.

Run by scripts/check-install in a venv that holds requirements/runtime.txt alone, so a runtime import that
only the test extras bring (charset_normalizer once was one) fails here instead of as a 500 in production.
"""
import importlib
import os
import pkgutil
import secrets
import sys
import traceback
from io import StringIO
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings.base")

import django  # noqa: E402

django.setup()

import siyu  # noqa: E402
from django.core.management import call_command  # noqa: E402


def modules_import():
    """Import every module under siyu/; return the names that failed, with their tracebacks printed."""
    failed = []
    for module in pkgutil.walk_packages(siyu.__path__, "siyu."):
        if module.name == "siyu.settings.prod":
            # Production settings refuse to load without a proper key; they are read, not run, here.
            os.environ.setdefault("SIYU_SECRET_KEY", secrets.token_urlsafe(50))
        try:
            importlib.import_module(module.name)
        except Exception:
            traceback.print_exc()
            failed.append(module.name)
    return failed


def gbk_import(folder):
    """Import a GBK-encoded CSV (encoding detected, as an operator's upload is) through `siyu members import`."""
    call_command("migrate", verbosity=0)
    call_command("workspace", "create", "--slug", "fresh", "--name", "Fresh install", stdout=StringIO())
    path = Path(folder) / "members-gbk.csv"
    path.write_text("姓名,手机号,城市\n王小明,13800138000,北京\n李华,13900139000,上海\n", encoding="gbk")
    out = StringIO()
    call_command("members", "import", str(path), "--workspace", "fresh", verbosity=0, stdout=out)
    return out.getvalue()


def main():
    failed = modules_import()
    count = sum(1 for _ in pkgutil.walk_packages(siyu.__path__, "siyu."))
    if failed:
        print(f"{len(failed)} of {count} modules failed to import: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"{count} modules imported")
    out = gbk_import(os.environ["SIYU_VAR_DIR"])
    if "GBK" not in out or "2 new members" not in out:
        print(f"The GBK import did not import 2 members:\n{out}", file=sys.stderr)
        return 1
    print(out.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
