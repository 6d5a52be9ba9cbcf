"""Tests: the same settings, a file database (worker processes must see it) and fast hashing."""
import os
import secrets

os.environ.setdefault("SIYU_VAR_DIR", os.path.join(os.getcwd(), "var", "test"))
# One key per test run, in the environment, so the worker processes tests start sign and encrypt alike.
os.environ.setdefault("SIYU_SECRET_KEY", secrets.token_urlsafe(48))

from .base import *  # noqa: E402,F401,F403
from .base import DATABASES, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One file per test run (worker processes open it by path); Django deletes it at the end.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
SIYU_OUTBOX_BACKOFF_SECONDS = [1, 2, 4]
# Static files straight from the apps (no collectstatic before a test run); tests/core/test_static_files.py runs the
# real storage.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
