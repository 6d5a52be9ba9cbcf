"""Production: a proper secret key is required, cookies are secure, static files are hashed and compressed."""
import os

from django.core.exceptions import ImproperlyConfigured

from siyu.core.secret_key import PLACEHOLDERS, secret_key_fallbacks, secret_key_problem

# Checked before anything else is read, so a bad key stops every process (web, worker, sync) at start.
if problem := secret_key_problem(os.environ.get("SIYU_SECRET_KEY", "")):
    raise ImproperlyConfigured(f"{problem} Production settings need a random key of 50 or more characters (docs/deployment.md).")
if set(secret_key_fallbacks(os.environ.get("SIYU_SECRET_KEY_FALLBACKS", ""))) & PLACEHOLDERS:
    raise ImproperlyConfigured("SIYU_SECRET_KEY_FALLBACKS holds a published placeholder: anyone can forge what it signs.")

from .base import *  # noqa: E402,F401,F403

SIYU_PRODUCTION = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
