"""The secret key: where it comes from and when it is not good enough (read by the settings, before Django starts).

SIYU_SECRET_KEY gives it. Without it a local install makes a random key on first run and keeps it in
$SIYU_VAR_DIR/secret_key (as Django's startproject writes one into settings.py), so no two installs share
one. Production settings refuse a key that `secret_key_problem` finds fault with; `check --deploy` says
the same (siyu.core.checks).
"""
import os
from pathlib import Path

from django.core.management.utils import get_random_secret_key

MIN_LENGTH = 50
# The fixed key Siyu used before it generated one: it is public, so anything signed with it can be forged.
LEGACY_KEY = "siyu-insecure-local-key-set-SIYU_SECRET_KEY-in-production"
PLACEHOLDERS = frozenset({
    LEGACY_KEY,
    "…long random…",
    "change-me",
    "changeme",
    "secret",
    "django-insecure",
    "replace-me-with-a-long-random-key-of-at-least-50-characters",
})
FILE_NAME = "secret_key"


def secret_key_local(var_dir: Path) -> str:
    """The key in `var_dir`/secret_key, made (random, 50 characters, mode 0600) the first time it is asked for.

    Processes that start together (web, worker, sync) agree: the file appears whole or not at all.
    """
    path = Path(var_dir) / FILE_NAME
    if not path.exists():
        scratch = path.with_name(f".{FILE_NAME}.{os.getpid()}")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(get_random_secret_key() + "\n")
        try:
            os.link(scratch, path)  # fails if another process was first; then its key is the key
        except FileExistsError:
            pass
        finally:
            scratch.unlink()
    return path.read_text().strip()


def secret_key_problem(key: str) -> str:
    """Why `key` must not sign or encrypt anything in production, or "" when it may."""
    if not key:
        return "SIYU_SECRET_KEY is not set."
    if key.strip() in PLACEHOLDERS or key.startswith("django-insecure-"):
        return "SIYU_SECRET_KEY is a published placeholder: anyone can forge what it signs."
    if len(key) < MIN_LENGTH:
        return f"SIYU_SECRET_KEY has {len(key)} characters; it needs at least {MIN_LENGTH}."
    if len(set(key)) < 5:
        return "SIYU_SECRET_KEY repeats too few characters to be random."
    return ""


def secret_key_fallbacks(value: str) -> list[str]:
    """SIYU_SECRET_KEY_FALLBACKS: the keys before the current one, comma-separated, newest first."""
    return [key.strip() for key in value.split(",") if key.strip()]

