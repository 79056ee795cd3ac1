"""Django settings, read from the environment (see docs/configuration.md).

Every setting that an operator may change is an environment variable parsed by
django-environ. Nothing here opens a connection: services are reached lazily.
"""

from __future__ import annotations

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from hallboard import i18n as _i18n


class _SecretFiles(environ.FileAwareMapping):
    """``NAME_FILE=/path`` reads NAME from that file (container and systemd secrets).

    The file's trailing line break is not part of the value: a secret written
    with ``echo`` or an editor works like one written without it.
    """

    def __getitem__(self, key: str) -> str:
        path = self.env.get(key + "_FILE")
        if not path:
            return str(super().__getitem__(key))
        try:
            return str(super().__getitem__(key)).rstrip("\r\n")
        except OSError as exc:
            raise ImproperlyConfigured(f"{key}_FILE={path}: {exc.strerror}") from exc


class _Env(environ.Env):
    ENVIRON = _SecretFiles()


# Every variable may also be given as NAME_FILE (docs/configuration.md).
env = _Env()

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env.str("HALLBOARD_DATA_DIR", default="./var")).resolve()

DEBUG = env.bool("HALLBOARD_DEBUG", default=False)
# A fixed development key is only acceptable on the embedded default; operators
# set HALLBOARD_SECRET_KEY (docs/configuration.md).
DEVELOPMENT_SECRET_KEY = "hallboard-insecure-development-key-change-me"  # noqa: S105 - public on purpose
SECRET_KEY = env.str("HALLBOARD_SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env.list("HALLBOARD_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("HALLBOARD_CSRF_TRUSTED_ORIGINS", default=[])
# Where displays are told to find the site when a URL must be absolute.
PUBLIC_URL = env.str("HALLBOARD_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # First: its admin/base_site.html (the admin's language switch) wraps the admin's own.
    "hallboard.i18n",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",  # serves the API docs' assets itself: screens often sit on closed networks
    "hallboard.schools",
    "hallboard.timetable",
    "hallboard.alerts",
    "hallboard.screens",
    "hallboard.display",
    "hallboard.api",
    "hallboard.realtime",
    "hallboard.staff",
    "hallboard.demo",
    "hallboard.server",
    "hallboard.observability",
    "hallboard.loadtest",
    "hallboard.imports",
]

MIDDLEWARE = [
    # First: probes and token scrapes come by address, before host checks and redirects.
    "hallboard.observability.middleware.ProbeMiddleware",
    # A NUL character in a URL: 400 before any view looks at it.
    "hallboard.httperrors.RejectNulMiddleware",
    # A database outage in any view: 503 database_unavailable with Retry-After.
    "hallboard.dbhealth.UnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The user's language: the language cookie (the staff pages' switch), else Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Times in the zone of the user's school(s) on admin and staff pages (hallboard.schools.zones).
    "hallboard.schools.zones.SchoolTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hallboard.urls"
ASGI_APPLICATION = "hallboard.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'hallboard.sqlite3'}")
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
# Database outages (hallboard.dbhealth, docs/operations.md): every wait is bounded.
# Seconds a request waits for a pooled connection before it is answered 503.
DATABASE_POOL_TIMEOUT = env.float("DATABASE_POOL_TIMEOUT", default=3.0)
# Seconds a new connection may take (libpq connect_timeout; at least 2).
DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", default=3)
# Seconds one statement may run, and a transaction may sit idle, on the server
# (statement_timeout, idle_in_transaction_session_timeout); the client cuts a
# connection that has not answered 2 s after that. 0: unbounded.
DATABASE_STATEMENT_TIMEOUT = env.float("DATABASE_STATEMENT_TIMEOUT", default=10.0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "hallboard.dbbackend"  # Django's, with bounded waits
    DATABASES["default"]["STATEMENT_TIMEOUT"] = DATABASE_STATEMENT_TIMEOUT
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options.setdefault("connect_timeout", max(2, DATABASE_CONNECT_TIMEOUT))
    if DATABASE_STATEMENT_TIMEOUT > 0:
        _ms = int(DATABASE_STATEMENT_TIMEOUT * 1000)
        # On the server: a statement or an idle transaction past the bound is
        # cancelled, so a transaction whose client gave up never commits later.
        _options["options"] = " ".join(
            filter(
                None,
                [
                    _options.get("options", ""),
                    f"-c statement_timeout={_ms}",
                    f"-c idle_in_transaction_session_timeout={_ms}",
                ],
            )
        )
        # In the kernel: data unacknowledged this long (a cut network) drops the
        # connection instead of being retransmitted into a later commit.
        _options.setdefault("tcp_user_timeout", _ms)
    # Keepalives notice a silent peer on an idle pooled connection.
    _options.setdefault("keepalives", 1)
    _options.setdefault("keepalives_idle", 10)
    _options.setdefault("keepalives_interval", 3)
    _options.setdefault("keepalives_count", 3)
if DATABASES["default"]["ENGINE"] == "hallboard.dbbackend" and env.bool(
    "DATABASE_POOL", default=True
):
    # A connection pool (psycopg_pool): the gateway's worker threads borrow a
    # connection per operation and give it back, instead of holding one each.
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
        "timeout": DATABASE_POOL_TIMEOUT,
        # The pool's own reconnection gives up soon (its backoff doubles up to
        # this): while the database is down hallboard.dbhealth probes it, and
        # the first request after its return grows the pool again at once.
        "reconnect_timeout": DATABASE_POOL_TIMEOUT,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # pooling replaces persistent connections
    # A pooled connection is checked (bounded) before a request gets it: one
    # that died in an outage is replaced instead of failing the request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default keeps its database under the data directory.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # Wait for a writer instead of failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # Write-ahead log: readers (displays polling, the gateway's threads) never
    # wait for a writer, and a commit does not wait for a full fsync.
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests use a file, not shared-cache memory: the gateway's worker threads
    # then see SQLite's normal locking (with the busy timeout above).
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", str(DATA_DIR / "test-hallboard.sqlite3")
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# Languages hallboard speaks (hallboard.i18n.LANGUAGES; docs/translations.md). Staff pages
# speak the user's choice or browser language; a school's screens speak School.language.
LANGUAGES = _i18n.LANGUAGES
# The language when a browser asks for none hallboard speaks, and of new schools.
LANGUAGE_CODE = _i18n.supported(env.str("HALLBOARD_LANGUAGE", default="en"), default="")
if not LANGUAGE_CODE:
    raise ImproperlyConfigured(
        "HALLBOARD_LANGUAGE must be one of "
        + ", ".join(code for code, _ in LANGUAGES)
        + f", not {env.str('HALLBOARD_LANGUAGE')!r}"
    )
LOCALE_PATHS = [BASE_DIR / "locale"]
# Times are stored in UTC and shown in the school's zone (School.timezone); this zone
# is only used where no school is concerned (install-wide pages, logs of the server).
TIME_ZONE = env.str("HALLBOARD_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("HALLBOARD_STATIC_ROOT", default=str(DATA_DIR / "static")))
# WhiteNoise serves files straight from the apps when collectstatic has not run
# (demo, small installs); `hallboard collectstatic` adds compressed copies.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

LOGIN_URL = "/admin/login/"

# --- display protocol -------------------------------------------------------
# Default of the global push switch until it is stored at run time (admin/API:
# PushSettings); schools and a percentage rollout refine it.
DISPLAY_WS_ENABLED = env.bool("DISPLAY_WS_ENABLED", default=True)
# Whether a screen accepts more than one device key (per-screen override exists).
DISPLAY_ALLOW_MULTI_DEVICE = env.bool("DISPLAY_ALLOW_MULTI_DEVICE", default=False)
# Adaptive polling bounds the display uses, in seconds (seed: 8-45 s).
DISPLAY_POLL_MIN_SECONDS = env.int("DISPLAY_POLL_MIN_SECONDS", default=8)
DISPLAY_POLL_MAX_SECONDS = env.int("DISPLAY_POLL_MAX_SECONDS", default=45)
# Polling rate limit per token and device, in the `limits` notation
# ("5/5second": one request a second on average with a burst of five).
DISPLAY_RATE_LIMIT = env.str("DISPLAY_RATE_LIMIT", default="5/5second")
# A screen with no heartbeat for this long is reported offline.
DISPLAY_OFFLINE_AFTER_SECONDS = env.int("DISPLAY_OFFLINE_AFTER_SECONDS", default=90)
# An online screen still showing an older revision this long after the current
# one was made is reported stale (displays report a new revision as they show it).
DISPLAY_STALE_AFTER_SECONDS = env.int("DISPLAY_STALE_AFTER_SECONDS", default=60)
# Answer the common status poll (known token, bound device, within the limit)
# without Django's request cycle (hallboard.display.fast_status).
DISPLAY_STATUS_FAST_PATH = env.bool("DISPLAY_STATUS_FAST_PATH", default=True)
# The display page's watchdog (docs/kiosk.md): a kiosk runs for days, so the page
# reloads itself when a figure it measures stays over its bound (0: no bound)...
DISPLAY_WATCHDOG_MAX_HEAP_MB = env.int("DISPLAY_WATCHDOG_MAX_HEAP_MB", default=256)
DISPLAY_WATCHDOG_MAX_DOM_NODES = env.int("DISPLAY_WATCHDOG_MAX_DOM_NODES", default=20_000)
DISPLAY_WATCHDOG_MAX_UPTIME_HOURS = env.int("DISPLAY_WATCHDOG_MAX_UPTIME_HOURS", default=50)
# ...how often it measures, and how often it keeps a point of the trend it reports.
DISPLAY_WATCHDOG_CHECK_SECONDS = env.int("DISPLAY_WATCHDOG_CHECK_SECONDS", default=60)
DISPLAY_WATCHDOG_TREND_SECONDS = env.int("DISPLAY_WATCHDOG_TREND_SECONDS", default=1800)
# ...and once a night at this school-local time (HH:MM; empty: never), each screen
# at its own moment within the jitter. Schools and screens can have their own
# (admin: Nightly reloads).
DISPLAY_RELOAD_AT = env.str("DISPLAY_RELOAD_AT", default="03:00")
DISPLAY_RELOAD_JITTER_MINUTES = env.int("DISPLAY_RELOAD_JITTER_MINUTES", default=30)
if DISPLAY_RELOAD_AT and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", DISPLAY_RELOAD_AT):
    raise ImproperlyConfigured(
        f"DISPLAY_RELOAD_AT must be a time like 03:00, or empty; not {DISPLAY_RELOAD_AT!r}"
    )
if not 0 <= DISPLAY_RELOAD_JITTER_MINUTES <= 240:
    raise ImproperlyConfigured("DISPLAY_RELOAD_JITTER_MINUTES must be from 0 to 240")
for _name, _lowest in {
    "DISPLAY_WATCHDOG_MAX_HEAP_MB": 0,
    "DISPLAY_WATCHDOG_MAX_DOM_NODES": 0,
    "DISPLAY_WATCHDOG_MAX_UPTIME_HOURS": 0,
    "DISPLAY_WATCHDOG_CHECK_SECONDS": 1,
    "DISPLAY_WATCHDOG_TREND_SECONDS": 1,
}.items():
    if globals()[_name] < _lowest:
        raise ImproperlyConfigured(f"{_name} must be {_lowest} or more")
del _name, _lowest
# Path of the push endpoint on the gateway.
DISPLAY_WS_PATH = env.str("DISPLAY_WS_PATH", default="/ws/display/")
# The push URL displays are given (meta.ws_url). Empty: ws(s)://<host of the
# request>:GATEWAY_PORT + DISPLAY_WS_PATH. Set it behind a reverse proxy,
# e.g. wss://displays.example.org/ws/display/.
DISPLAY_WS_URL = env.str("DISPLAY_WS_URL", default="")
# The staff socket URL live dashboards open (without the ticket). Empty: the
# display push URL's scheme and host with the path /ws/staff/.
STAFF_WS_URL = env.str("STAFF_WS_URL", default="")

# --- realtime gateway -------------------------------------------------------
GATEWAY_PORT = env.int("GATEWAY_PORT", default=8001)
# Sockets one gateway process holds; over it new ones are closed with 1013.
# (WS_MAX_CONNECTIONS_PER_INSTANCE is the seeds' name, still accepted.)
WS_MAX_CONNECTIONS = env.int(
    "WS_MAX_CONNECTIONS", default=env.int("WS_MAX_CONNECTIONS_PER_INSTANCE", default=10_000)
)
# Server-side keepalive: a ping every N seconds; no pong within N seconds closes.
WS_PING_INTERVAL_SECONDS = env.int("WS_PING_INTERVAL_SECONDS", default=30)
# Bursts of changes per school inside this window go out as one trailing message.
REALTIME_COALESCE_SECONDS = env.float("REALTIME_COALESCE_SECONDS", default=2.0)
# Seconds a socket's send buffer may stay full before it is closed (4408 slow client).
WS_SLOW_CLIENT_SECONDS = env.float("WS_SLOW_CLIENT_SECONDS", default=10.0)

# --- imports (docs/import.md) ------------------------------------------------
# Run the watched-source scheduler in every web process of `hallboard serve`.
# Off: run `hallboard watch` instead (or from cron: `hallboard watch --once`).
IMPORT_WATCH = env.bool("HALLBOARD_IMPORT_WATCH", default=True)
# Seconds between two looks for sources that are due (each has its own interval).
IMPORT_WATCH_TICK_SECONDS = env.float("HALLBOARD_IMPORT_WATCH_TICK_SECONDS", default=5.0)
# Folders watched sources may read (and their subfolders): the shares Untis exports to.
IMPORT_FOLDERS = env.list("HALLBOARD_IMPORT_FOLDERS", default=[str(DATA_DIR / "imports")])

# --- services ---------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# The realtime broker, when it is not REDIS_URL: e.g. a Redis Cluster,
# redis+cluster://host:port,host:port (docs/scaling.md, "Past one Redis").
BROKER_URL = env.str("HALLBOARD_BROKER_URL", default="")
# Seconds a Redis call on a request's path (rate limits, single-use tickets,
# readiness) may take before it fails open (hallboard.redisconn); no retries.
REDIS_REQUEST_TIMEOUT_SECONDS = env.float("REDIS_REQUEST_TIMEOUT_SECONDS", default=0.5)

# --- failed authentications (hallboard.throttle) ------------------------------------
# Failures per source address before further attempts are refused, in the
# `limits` notation: display and socket tokens, staff tickets, API keys...
AUTH_FAILURE_RATE = env.str("AUTH_FAILURE_RATE", default="30/minute")
# ...and the admin's sign-in (a lockout: five, then one every three minutes).
ADMIN_LOGIN_FAILURE_RATE = env.str("ADMIN_LOGIN_FAILURE_RATE", default="5/15minute")
# Proxies whose X-Forwarded-For the gateway believes (nginx in front of it).
HALLBOARD_TRUSTED_PROXIES = env.list("HALLBOARD_TRUSTED_PROXIES", default=["127.0.0.1", "::1"])

# --- operations (docs/operations.md) -------------------------------------------
# Bearer token for /metrics and /api/display/ws-metrics/ (scrapers, monitors).
# Empty: only signed-in staff may read them.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Seconds between two summary log lines of each serving process (the seed's name).
WS_METRICS_LOG_INTERVAL = env.float("WS_METRICS_LOG_INTERVAL", default=300.0)
# Seconds /readyz waits for the database and Redis to answer.
READYZ_TIMEOUT_SECONDS = env.float("READYZ_TIMEOUT_SECONDS", default=2.0)
# "plain" (one readable line per record) or "json" (one JSON object per line).
LOG_FORMAT = env.str("HALLBOARD_LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(
        f'HALLBOARD_LOG_FORMAT must be "plain" or "json", not {LOG_FORMAT!r}'
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,  # ISO 8601, UTC
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("HALLBOARD_LOG_LEVEL", default="INFO")},
}
