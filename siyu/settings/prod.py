"""Production: a proper secret key is required, cookies are secure, HTTPS only (static files: siyu.settings.base)."""
import os

from django.core.exceptions import ImproperlyConfigured

from siyu.core.secret_key import PLACEHOLDERS, secret_key_fallbacks, secret_key_problem

# Checked before anything else is read, so a bad key stops every process (web, worker, sync) at start.
if problem := secret_key_problem(os.environ.get("SIYU_SECRET_KEY", "")):
    raise ImproperlyConfigured(f"{problem} Production settings need a random key of 50 or more characters (docs/deployment.md).")
if set(secret_key_fallbacks(os.environ.get("SIYU_SECRET_KEY_FALLBACKS", ""))) & PLACEHOLDERS:
    raise ImproperlyConfigured("SIYU_SECRET_KEY_FALLBACKS holds a published placeholder: anyone can forge what it signs.")

from .base import *  # noqa: E402,F401,F403

from .base import env_bool  # noqa: E402

SIYU_PRODUCTION = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# HTTPS: the reverse proxy terminates TLS and says so in X-Forwarded-Proto (it must set it itself, never pass on the
# client's); plain-HTTP requests are redirected, and browsers are told to use HTTPS only for a year.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SIYU_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("SIYU_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SIYU_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SIYU_HSTS_PRELOAD", True)
SECURE_REFERRER_POLICY = "same-origin"  # a short link's target never learns the console's URLs
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Scripts only from Siyu's own static files: no inline script or handler anywhere (console/static/console/console.js
# wires confirmations and auto-submitting selects). Styles may be inline: colours and widths drawn from data, and
# Plotly's own; images may be data: and blob: URLs (QR codes, Plotly's "download as PNG").
SIYU_CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
