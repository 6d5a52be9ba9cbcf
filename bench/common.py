"""Helpers the benchmarks share: progress on stderr, Django on a chosen database, the code under test."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def say(message=""):
    print(message, file=sys.stderr, flush=True)


def django_start(var_dir, database_url):
    os.environ["SIYU_VAR_DIR"] = str(var_dir)
    os.environ["SIYU_DATABASE_URL"] = database_url
    os.environ["SIYU_DEBUG"] = "0"  # DEBUG would record every query
    os.environ["DJANGO_SETTINGS_MODULE"] = "siyu.settings.base"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def postgres_recreate(url, names):
    """Drop and create the databases `names`; return (server version, autovacuum setting)."""
    import psycopg

    with psycopg.connect(url, dbname="postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return conn.execute("SHOW server_version").fetchone()[0], conn.execute("SHOW autovacuum").fetchone()[0]


def code_version():
    """The commit of the code under test, "+dirty" if siyu/ has uncommitted changes; None outside git."""

    def git(*command):
        return subprocess.run(["git", "-C", str(ROOT), *command], capture_output=True, text=True, check=True).stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        dirty = git("status", "--porcelain", "--", "siyu").strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty else "")
