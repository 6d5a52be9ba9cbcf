"""Settings shared by every environment, read from SIYU_* environment variables.

Safe local defaults: SQLite in ./var, Huey on SQLite, debug off. See docs/configuration.md.
"""
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from siyu.core.secret_key import secret_key_fallbacks, secret_key_local

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SIYU_VAR_DIR", Path.cwd() / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("SIYU_DEBUG")
# SIYU_SECRET_KEY, else a random key made on first run and kept in var/secret_key (docs/configuration.md).
SECRET_KEY = os.environ.get("SIYU_SECRET_KEY") or secret_key_local(VAR_DIR)
# Keys before the current one: what they signed or encrypted still reads; new signatures use SECRET_KEY.
SECRET_KEY_FALLBACKS = secret_key_fallbacks(os.environ.get("SIYU_SECRET_KEY_FALLBACKS", ""))
SIYU_PRODUCTION = False  # siyu.settings.prod: commands that would harm a live install (siyu demo) refuse
ALLOWED_HOSTS = [h for h in os.environ.get("SIYU_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("SIYU_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "siyu.console.admin_site.SiyuAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "huey.contrib.djhuey",
    "siyu.core",
    "siyu.members",
    "siyu.groups",
    "siyu.links",
    "siyu.channels",
    "siyu.channels.simulator",
    "siyu.channels.matrix",
    "siyu.channels.wecom",
    "siyu.analytics",
    "siyu.console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "siyu.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a locked-out login into the translated lockout page (siyu.console.views.login_locked_out).
    "axes.middleware.AxesMiddleware",
]

SIYU_CONTENT_SECURITY_POLICY = ""  # none locally; siyu.settings.prod sets one (docs/deployment.md)

ROOT_URLCONF = "siyu.urls"
WSGI_APPLICATION = "siyu.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "siyu.console.context.console",
            ],
        },
    },
]


def database_from_env(url):
    """Parse SIYU_DATABASE_URL; SQLite gets WAL, a busy timeout and immediate write transactions."""
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            "timeout": 20,
            # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of deadlocking.
            "transaction_mode": "IMMEDIATE",
            # A 64 MiB page cache keeps the ledger's index pages hot while ingest appends.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000; "
                "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=10000;"
            ),
        }
    return config


DATABASE_URL = os.environ.get("SIYU_DATABASE_URL") or f"sqlite:///{VAR_DIR / 'siyu.sqlite3'}"
DATABASES = {"default": database_from_env(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("SIYU_REDIS_URL", "")
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": os.environ.get("SIYU_HUEY_NAME", "siyu"),
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": os.environ.get("SIYU_HUEY_NAME", "siyu"),
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": False,
        # An idle consumer polls the SQLite queue at most every 0.2 s (Huey's default backs off to 10 s),
        # so the bot answers within a fraction of a second; a poll is one indexed SELECT.
        "consumer": {"workers": 2, "worker_type": "thread", "initial_delay": 0.05, "backoff": 1.3, "max_delay": 0.2},
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Login throttling (django-axes, its counters in the database so it works without Redis): docs/security.md.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("SIYU_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("SIYU_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one reaching the limit locks
AXES_RESET_ON_SUCCESS = True
# Refused attempts during a lock are not recorded: the cool-down runs from the failure that locked, and an
# attacker who keeps trying adds no rows.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "siyu.console.views.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "siyu.core.login.client_address"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
AXES_DISABLE_ACCESS_LOG = True  # failures are what it is for; no row per successful login
SIYU_TRUSTED_PROXY_COUNT = int(os.environ.get("SIYU_TRUSTED_PROXY_COUNT", "0"))
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "console:login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = os.environ.get("SIYU_TIME_ZONE", "Asia/Shanghai")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Static files under hashed names (console/charts.3f2a….js), each with a .gz and a .br beside it, which WhiteNoise
# serves compressed and cached for good; `siyu serve` collects them into STATIC_ROOT when they changed
# (siyu.core.staticfiles, docs/deployment.md#static-files). Tests keep the plain storage (siyu.settings.test).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG  # with SIYU_DEBUG, files as they are in the checkout

# The outbox: how long a claim is held before another worker may take the message over,
# and the back-off schedule for temporary failures.
SIYU_OUTBOX_LEASE_SECONDS = int(os.environ.get("SIYU_OUTBOX_LEASE_SECONDS", "60"))
SIYU_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("SIYU_OUTBOX_MAX_ATTEMPTS", "8"))
SIYU_OUTBOX_BACKOFF_SECONDS = [10, 30, 60, 300, 900, 1800, 3600]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SIYU_LOG_LEVEL", "WARNING")},
    "loggers": {
        "siyu": {"level": os.environ.get("SIYU_LOG_LEVEL", "INFO")},
        # The Huey consumer installs its own handler; do not print its lines twice.
        "huey": {"level": "INFO", "propagate": False},
    },
}
