import itertools
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from siyu.core.ingest import events_ingest
from siyu.core.models import Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("SIYU_REQUIRE_SERVICES") == "1"
_counter = itertools.count(1)


def require(condition, reason):
    """Skip when a local service is missing; in CI (SIYU_REQUIRE_SERVICES=1) fail instead."""
    if not condition:
        if REQUIRE_SERVICES:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


def port_open(host, port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@pytest.fixture
def make_workspace(db):
    def make(slug=None, time_zone="Asia/Shanghai"):
        n = next(_counter)
        return workspace_create(slug=slug or f"ws{n}", name=f"Workspace {n}", time_zone=time_zone)

    return make


@pytest.fixture
def workspace(make_workspace):
    return make_workspace()


@pytest.fixture
def make_staff(db):
    def make(workspace, role=Role.OPERATOR, username=None):
        user = staff_user_ensure(username=username or f"staff{next(_counter)}", password="pw-for-tests-123")
        staff_role_set(workspace=workspace, user=user, role=role)
        return user

    return make


T0 = datetime(2026, 3, 2, 12, 0, tzinfo=dt_timezone.utc)


def ev(type_, n, *, actor=None, group=None, minutes=0, **data):
    """A raw event for tests: `actor`/`group` are short names turned into channel references."""
    event = {"type": type_, "source_id": f"e{n}", "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(), "data": data}
    if actor:
        event["actor"] = {"id": f"@{actor}:example.org", "name": actor.title()}
    if group:
        event["group"] = {"id": f"!{group}:example.org", "name": f"Group {group}", "kind": "lead"}
    return event


@pytest.fixture
def ingest(workspace):
    def run(events, ws=None, source="simulator"):
        return events_ingest(workspace=ws or workspace, source=source, events=events)

    return run


def child_env(**extra):
    """Environment for a child process that must see this test's database."""
    db = connection.settings_dict
    env = dict(os.environ)
    if connection.vendor == "sqlite":
        env["SIYU_DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        env["SIYU_DATABASE_URL"] = f"postgres://{db['USER'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env["DJANGO_SETTINGS_MODULE"] = "siyu.settings.base"
    env["SIYU_VAR_DIR"] = str(settings.VAR_DIR)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def siyu_process(*args, env, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "siyu.cli", *args], env=env, cwd=ROOT, **kwargs)


def wait_for(predicate, timeout=30, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


PRODUCTION_SECURITY = (
    "SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD", "SECURE_REFERRER_POLICY", "SECURE_CROSS_ORIGIN_OPENER_POLICY", "X_FRAME_OPTIONS",
    "SIYU_CONTENT_SECURITY_POLICY", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
)


def production_security_apply(settings, **overrides):
    """Give this test siyu.settings.prod's security settings (headers, cookies, HTTPS), with `overrides`."""
    from siyu.settings import prod

    for name in PRODUCTION_SECURITY:
        setattr(settings, name, overrides.get(name, getattr(prod, name)))


def hashed_static(root):
    """siyu.settings.base's static files (hashed names, .gz and .br copies, collected into `root`), which
    siyu.settings.test replaces with the apps' files as they are. WhiteNoise reads them when a handler starts."""
    from django.conf import settings
    from django.test import override_settings

    hashed = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
    return override_settings(STATIC_ROOT=root, WHITENOISE_USE_FINDERS=False, STORAGES={**settings.STORAGES, "staticfiles": hashed})
