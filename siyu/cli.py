"""The `siyu` command: manage.py with Siyu's defaults (settings module, ./var)."""
import os
import sys


def main(argv=None):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings.base")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["siyu", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
