"""EventTix settings, read from the environment and an optional .env file."""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import environ
from django.core.exceptions import ImproperlyConfigured

from eventtix import secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Everything written at run time (SQLite file, CSV log, cache, dev secret) lives here.
DATA_DIR = Path(env("EVENTTIX_DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)


# `make setup` writes a random key here; an environment's SECRET_KEY wins over it.
SECRET_KEY_FILE = DATA_DIR / "secret-key"


def _is_weak_secret(value: str) -> bool:
    return len(value) < 50 or len(set(value)) < 5 or value.startswith("django-insecure")


# Production has no default: without SECRET_KEY or the file `make setup` writes, start-up fails.
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    SECRET_KEY = secret_key.ensure(SECRET_KEY_FILE) if DEBUG else secret_key.read(SECRET_KEY_FILE)
if not DEBUG and _is_weak_secret(SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY is missing or weak. With DEBUG off, set SECRET_KEY to at least 50 random "
        'characters, e.g. python -c "import secrets; print(secrets.token_urlsafe(50))", '
        f"or run `make setup`, which writes one to {SECRET_KEY_FILE}."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "django_q",
    "axes",
    "accounts",
    "events",
    "ticketing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After the session (it may read a chosen language there), before CommonMiddleware (as Django asks).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "eventtix.headers.PrivatePagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "eventtix.headers.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "eventtix.middleware.BusyDatabaseMiddleware",
    "eventtix.middleware.ShedLoadMiddleware",
    # Last, as django-axes asks: it turns a locked-out page log-in into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "eventtix.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "events.context_processors.sale_states",
            ],
        },
    },
]

WSGI_APPLICATION = "eventtix.wsgi.application"

# Databases: a SQLite file by default, PostgreSQL in production (DATABASE_URL).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'eventtix.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock when a transaction starts, so two writers queue
        # instead of failing with "database is locked" when one upgrades its read lock.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-eventtix.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env.bool("DB_SERVER_SIDE_BINDING", default=True):
        # The server binds the parameters: psycopg then sends them apart from the query instead
        # of quoting each into it in Python, less CPU per statement on the request path.
        # Statements are not prepared (psycopg's prepare_threshold stays off): preparing them all
        # cut the drain's rate by 40 % (BENCHMARKS.md). Only the join's two are, once per
        # connection (ticketing/services/fastpath.prepared): their planning cost more than running.
        DATABASES["default"]["OPTIONS"] = {"server_side_binding": True}
    # No wait on the database is unbounded: a request queued behind a stalled lock holder gives
    # up (a 503 "busy, try again", eventtix/middleware.py), and a stalled transaction is ended.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = " ".join(
        f"-c {name}={env.int(var, default=default)}"
        for name, var, default in (
            ("lock_timeout", "DB_LOCK_TIMEOUT_MS", 3000),
            ("statement_timeout", "DB_STATEMENT_TIMEOUT_MS", 30000),
            ("idle_in_transaction_session_timeout", "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 10000),
        )
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "events:list"
LOGOUT_REDIRECT_URL = "events:list"

# The lockout backend first: a locked-out account is refused before its password is checked.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    # A password like the account's name or email is refused (Django's default list has no `name`).
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Redis is the production cache and task broker; without it a file cache shared by the
# web and cluster processes on this machine coalesces wake-ups and counts throttles.
REDIS_URL = env("REDIS_URL", default="")
# Seconds any one call to Redis may take (connecting, or waiting for an answer).
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=0.25)
if REDIS_URL:
    CACHES = {
        "default": {
            # django-redis keeps one client per server; Django's own backend builds a new
            # client for every call, which cost a fifth of a ticket request's CPU.
            # (Its subclass answers from the process's memory while Redis is down or hung.)
            "BACKEND": "eventtix.cache.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="eventtix"),
            # Every call to Redis is bounded: a hung Redis must not hold a page's thread.
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": REDIS_TIMEOUT, "SOCKET_TIMEOUT": REDIS_TIMEOUT},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 10000},
        }
    }

# Account lockout (django-axes): wrong passwords are counted per account (the email typed,
# whatever its case), from any address, on the page log-in, the admin's and the API's. Counts
# live in the cache, not in a table written at every failure. With Redis down the cache counts in
# each process's memory, so lockouts still happen, per process (README, "Limits and lockout").
AXES_HANDLER = "accounts.lockout.CacheHandler"  # django-axes's cache handler
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_FAILURE_LIMIT = env.int("LOCKOUT_FAILURES", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOCKOUT_MINUTES", default=15))
# Tries during a lockout do not prolong it: the owner gets in once the cool-off has passed.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "accounts.lockout.typed_username"
AXES_CLIENT_IP_CALLABLE = "eventtix.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_ENABLE_ADMIN = False  # its admin pages show the database handler's rows, which are not written
SILENCED_SYSTEM_CHECKS = [
    # Locking by account alone is the point: an address is limited by the log-in throttle.
    "axes.W006",
]
if not REDIS_URL:
    # The file cache's counts are not atomic: parallel failures may count once (as the throttles).
    SILENCED_SYSTEM_CHECKS.append("axes.W001")

LANGUAGE_CODE = "en"
# The languages the pages speak; a person's choice (cookie) wins over the browser's Accept-Language.
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# An event's own time zone (Event.time_zone) defaults to this; pages name the zone of every time.
TIME_ZONE = env("TIME_ZONE", default="UTC")
# The currency of an event's prices (Event.currency) unless it names its own (ISO 4217).
CURRENCY = env("CURRENCY", default="EUR")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production serves hashed, compressed copies made by collectstatic; development the sources.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if env("EMAIL_HOST", default="")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Where the file-based backend (EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend) writes.
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(DATA_DIR / "emails"))
# Seconds an outbox email claimed by a sender is left to it before another sender may send it.
# Shorter than Q_RETRY, so a killed sender's emails are free again when its task is redelivered.
OUTBOX_CLAIM_SECONDS = env.int("OUTBOX_CLAIM_SECONDS", default=60)
# Seconds an SMTP connection may hang before a send fails (and is retried after its claim).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="EventTix <tickets@localhost>")
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# The JSON API.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.RevocableJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PARSER_CLASSES": [
        "eventtix.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ticketing.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": env("THROTTLE_LOGIN", default="10/min"),
        "register": env("THROTTLE_REGISTER", default="5/min"),
        "register_day": env("THROTTLE_REGISTER_DAY", default="20/day"),
        "password_reset": env("THROTTLE_PASSWORD_RESET", default="5/hour"),
        "ticket_requests": env("THROTTLE_TICKET_REQUESTS", default="30/min"),
        "verify": env("THROTTLE_VERIFY", default="60/min"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

ACCESS_TOKEN_EXPIRE_MINUTES = env.int("ACCESS_TOKEN_EXPIRE_MINUTES", default=43200)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_EXPIRE_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        minutes=env.int("REFRESH_TOKEN_EXPIRE_MINUTES", default=ACCESS_TOKEN_EXPIRE_MINUTES * 2)
    ),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    # Each refresh returns a new refresh token and blacklists the one it was given; a reuse of a
    # blacklisted one revokes the account's tokens (accounts.services.rotate_refresh_token).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "EventTix API",
    "DESCRIPTION": "Ticketing for high-demand on-sales: a fair priority queue that never oversells.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # After the enum naming: an operation open to anyone says `security: []` (no padlock in Swagger UI).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "eventtix.api.schema.public_operations_need_no_token",
    ],
    # Two choice sets share the field name "status"; name their enums rather than hash them.
    "ENUM_NAME_OVERRIDES": {
        "TicketRequestStatusEnum": "ticketing.models.TicketRequest.Status",
        "SaleStateEnum": "events.models.SaleState",
        "TicketStatusEnum": "ticketing.models.Ticket.Status",
        "OrderStatusEnum": "ticketing.models.Order.Status",
    },
}

CORS_ALLOWED_ORIGINS = env.list("CORS_ORIGINS", default=["http://localhost:5173"])
CORS_URLS_REGEX = r"^/api/.*$"

# The transaction log, written from the AuditEntry table by the cluster.
TRANSACTIONS_CSV = Path(env("TRANSACTIONS_CSV", default=str(DATA_DIR / "transactions.csv")))

# The queue engine (see README, "The queue engine").
EVENTTIX_DRAIN_BATCH_SIZE = env.int("DRAIN_BATCH_SIZE", default=500)
EVENTTIX_DRAIN_TIME_BUDGET_S = env.float("DRAIN_TIME_BUDGET_S", default=20.0)
# Seconds a client is told to wait (Retry-After) when the database was too busy to answer.
EVENTTIX_BUSY_RETRY_AFTER_S = env.int("BUSY_RETRY_AFTER_S", default=2)
# A new ticket request that waited longer than this in the web server's queue is refused at once
# (503 "overloaded", eventtix/middleware.py) rather than served after its client has given up.
EVENTTIX_SHED_AFTER_S = env.float("SHED_AFTER_S", default=2.0)
# The most polls of queue places the site asks for in any one second, and the rate the waiting
# room is asked back at after the opening (ticketing/services/polling.py): well inside what the web
# server answers at once beside the new ticket requests.
EVENTTIX_POLL_BUDGET_PER_S = max(1.0, env.float("POLL_BUDGET_PER_S", default=150.0))
# `manage.py serve` runs the task cluster at this niceness (0-19): under a crowd the CPU answers
# buyers first, and the drain and the emails take what is left.
EVENTTIX_CLUSTER_NICE = env.int("CLUSTER_NICE", default=10)

# django-q2. The ORM broker keeps tasks in the database: a worker killed mid-task has its
# task delivered again after `retry` seconds, which the idempotent drain tolerates. The Redis
# broker is faster but loses a task in flight on a crash; the minute schedule and the short
# wake-up key both recover from a lost task, so either broker is safe.
Q_CLUSTER = {
    "name": "eventtix",
    "workers": env.int("Q_WORKERS", default=2),
    # A drain stops itself after DRAIN_TIME_BUDGET_S and re-queues, far inside the timeout.
    # (The task that wakes the drain at a sale's opening sleeps up to a minute, so 90.)
    "timeout": env.int("Q_TIMEOUT", default=90),
    # Must exceed timeout, or a task still running would be handed to a second worker.
    "retry": env.int("Q_RETRY", default=120),
    # A task that keeps failing is a bug: stop after a few tries; the schedule still sweeps.
    "max_attempts": 3,
    "ack_failures": True,
    # Successful tasks are not stored (a row written and pruned per task, thousands in an
    # on-sale); what they did is in the audit log. Failures are always kept, for the admin.
    "save_limit": -1,
    "catch_up": False,
    "label": "Task queue",
}
# Q_BROKER=orm keeps the at-least-once ORM broker even when Redis serves as the cache.
Q_BROKER = env("Q_BROKER", default="redis" if REDIS_URL else "orm")
if Q_BROKER not in ("orm", "redis") or (Q_BROKER == "redis" and not REDIS_URL):
    raise ImproperlyConfigured("Q_BROKER must be 'orm' or 'redis', and 'redis' needs REDIS_URL.")
if Q_BROKER == "redis":
    # Bounded calls here too (the cluster's own blocking pop waits 1 s, so a little longer):
    # with Redis hung, a wake-up in a web request gives up quickly and the sweep serves it.
    Q_CLUSTER["redis"] = (
        REDIS_URL
        + ("&" if "?" in REDIS_URL else "?")
        + urlencode({"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": max(2.0, REDIS_TIMEOUT)})
    )
else:
    Q_CLUSTER["orm"] = "default"
    # 50 ms polling keeps enqueue-to-start latency well under 100 ms at negligible cost.
    Q_CLUSTER["poll"] = env.float("Q_POLL", default=0.05)

# Production hardening; all of these hold whenever DEBUG is off. `manage.py serve` bound to a
# loopback address sets PLAIN_HTTP (nobody else can reach it, and it has no certificate): no
# redirect to HTTPS, no HSTS, and cookies that plain HTTP may carry.
PLAIN_HTTP = env.bool("PLAIN_HTTP", default=False)
if not DEBUG:
    SECURE_CONTENT_TYPE_NOSNIFF = True
    if env.bool("BEHIND_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG and not PLAIN_HTTP:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): scripts only from this site's own files, no inline script
# anywhere (pages, the door, Swagger UI's split view, the admin), nothing framed or framing.
# Styles allow inline `style` attributes: the availability bars' widths and the admin's and Swagger
# UI's markup use them, and a style cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        # QR codes and Swagger UI's icons are data: images.
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django-q": {"level": env("Q_LOG_LEVEL", default="WARNING")}},
}
