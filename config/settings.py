"""Sitter's settings, read from the environment.

Every setting that an operator may change is an environment variable named like the setting.
Nothing here reaches the network; missing keys or models are start-up errors that name the
variable to set.
"""

import json
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.keyfiles import ensure_key_file

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_float(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def env_list(name, default):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


# Everything the service writes (database file, ciphertext, keys, models) lives here.
SITTER_DATA_DIR = Path(env_str("SITTER_DATA_DIR", str(BASE_DIR / "var"))).resolve()
SITTER_KEYS_DIR = SITTER_DATA_DIR / "keys"


def _secret_key():
    """The Django secret key: from the environment, else a key file made on first start.

    Web and worker processes must share it (django-q2 signs queued tasks with it), so a
    per-process random key would not do.
    """
    if os.environ.get("SITTER_SECRET_KEY"):
        return os.environ["SITTER_SECRET_KEY"]
    return ensure_key_file(SITTER_KEYS_DIR / "django-secret-key", 50).hex()


SECRET_KEY = _secret_key()
DEBUG = env_bool("SITTER_DEBUG", False)
ALLOWED_HOSTS = env_list("SITTER_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("SITTER_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "config.apps.SitterAdminConfig",  # django.contrib.admin, with audit-logged staff views
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "audit",
    "consent",
    "portrait",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.CSPMiddleware",  # django-csp's, with the header built once
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # the second factor the admin asks staff for
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{SITTER_DATA_DIR / 'sitter.sqlite3'}"),
        conn_max_age=env_int("SITTER_DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers take the lock when their transaction starts, so concurrent web and worker
    # processes queue up instead of failing half-way with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["TEST"] = {"NAME": str(SITTER_DATA_DIR / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's model backend; portrait/auth.py says why it is a subclass.
AUTHENTICATION_BACKENDS = ["portrait.auth.ModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portrait:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = SITTER_DATA_DIR / "static"


def _blob_backend_options():
    """The options of an operator's blob backend (SITTER_BLOB_OPTIONS, a JSON object), e.g.
    {"bucket_name": "sitter", "region_name": "eu-central-1"} for django-storages' S3."""
    try:
        value = json.loads(env_str("SITTER_BLOB_OPTIONS", "{}"))
    except json.JSONDecodeError as error:
        raise ImproperlyConfigured(f"SITTER_BLOB_OPTIONS is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ImproperlyConfigured("SITTER_BLOB_OPTIONS must be a JSON object")
    return value


STORAGES = {
    # Ciphertext only: the vault encrypts before anything reaches this backend. Point it at
    # S3 (django-storages) or any other backend; it never sees plaintext.
    "ciphertext": {
        "BACKEND": env_str("SITTER_BLOB_BACKEND", "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": (
            {
                "location": str(SITTER_DATA_DIR / "blobs"),
                "file_permissions_mode": 0o600,
                "directory_permissions_mode": 0o700,
            }
            if not os.environ.get("SITTER_BLOB_BACKEND")
            else _blob_backend_options()
        ),
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Uploaded files stay in memory up to this size, so a photo never lands in a temp file.
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("SITTER_MAX_UPLOAD_BYTES", 20 * 1024 * 1024) + 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = FILE_UPLOAD_MAX_MEMORY_SIZE
FILE_UPLOAD_HANDLERS = ["portrait.uploads.MemoryOnlyUploadHandler"]

# --- HTTPS (behind a TLS-terminating proxy) ---
SITTER_HTTPS = env_bool("SITTER_HTTPS", False)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# No inline script or style anywhere: every script and stylesheet is a static file of this
# site. Photos picked for upload are drawn as thumbnails in the browser (blob: and data: URLs).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
if SITTER_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SITTER_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["upgrade-insecure-requests"] = True

# --- Cache: shared by every process (rate limits, the queue workers' stats) ---
# Redis where SITTER_CACHE (or a Redis broker) names one, else a table in the database
# (`createcachetable`, which `sitter_setup` runs).
SITTER_CACHE = env_str("SITTER_CACHE") or (
    env_str("SITTER_BROKER") if env_str("SITTER_BROKER").startswith(("redis", "unix")) else ""
)
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": SITTER_CACHE,
            "KEY_PREFIX": "sitter",
        }
        if SITTER_CACHE
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "sitter_cache",
            # Rate-limit counts and sessions must not be culled away at Django's default of 300.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    ),
}
# Sessions are read from the cache (one query by key) and written through to the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Rate limits (portrait/ratelimit.py): N/s, N/m, N/h or N/d, or off ---
SITTER_RATE_LIMITS = {
    # per address and per user name: web log-in, sign-up and the API's token
    "login": env_str("SITTER_RATE_LOGIN", "10/m"),
    # photos checked, per person: each one costs a face analysis
    "upload": env_str("SITTER_RATE_UPLOAD", "120/h"),
    # API requests, per account (per address before logging in)
    "api": env_str("SITTER_RATE_API", "600/m"),
}
# Behind a proxy, the request header that carries the client's address (e.g. HTTP_X_REAL_IP);
# without one, every client would share the proxy's address and its limits.
SITTER_CLIENT_IP_HEADER = env_str("SITTER_CLIENT_IP_HEADER")

# --- REST API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # drf-spectacular's, adding every refusal's status and body (portrait/api_schema.py)
    "DEFAULT_SCHEMA_CLASS": "portrait.api_schema.AutoSchema",
    "EXCEPTION_HANDLER": "portrait.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["portrait.ratelimit.ApiRateThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sitter API",
    "DESCRIPTION": "Consent, photos, clones, renders and erasure requests.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page's assets are served from this site: nothing is fetched from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Task queue: two queues, so a render never waits behind a training job ---
SITTER_BROKER = env_str("SITTER_BROKER", "orm")
SITTER_QUEUE_SYNC = env_bool("SITTER_QUEUE_SYNC", False)
SITTER_TRAIN_TIMEOUT = env_int("SITTER_TRAIN_TIMEOUT", 6 * 3600)
SITTER_RENDER_TIMEOUT = env_int("SITTER_RENDER_TIMEOUT", 1800)
# A job whose worker stopped (killed, crashed, its host gone) is put back on its queue and
# resumed: at once when the worker ran on the same host, else once its heartbeat has been
# silent this long; a queued job missing from the broker is sent again after as long. After
# SITTER_JOB_MAX_ATTEMPTS starts it fails instead (portrait/recovery.py).
SITTER_JOB_STALL_SECONDS = env_float("SITTER_JOB_STALL_SECONDS", 120)
SITTER_JOB_MAX_ATTEMPTS = env_int("SITTER_JOB_MAX_ATTEMPTS", 3)
SITTER_TRAIN_WORKERS = env_int("SITTER_TRAIN_WORKERS", 1)
SITTER_RENDER_WORKERS = env_int("SITTER_RENDER_WORKERS", 1)
# Seconds a process may count places in the queue from what it read of it (portrait/eta.py).
SITTER_ETA_QUEUE_SECONDS = env_float("SITTER_ETA_QUEUE_SECONDS", 1.0)


def _cluster(workers, timeout):
    return {
        "workers": workers,
        "timeout": timeout,
        # The database broker hands out again a task whose worker died after this long (the
        # Redis broker never does); portrait/recovery.py puts such a job back much sooner.
        "retry": timeout + 60,
        "max_attempts": 3,
        "recycle": 50,
    }


Q_CLUSTER = {
    "name": "sitter",
    "workers": 1,
    "timeout": SITTER_RENDER_TIMEOUT,
    "retry": SITTER_RENDER_TIMEOUT + 60,
    "max_attempts": 3,
    "save_limit": 500,
    "catch_up": False,
    "sync": SITTER_QUEUE_SYNC,
    "label": "Django Q2",
    "ALT_CLUSTERS": {
        "train": _cluster(SITTER_TRAIN_WORKERS, SITTER_TRAIN_TIMEOUT),
        "render": _cluster(SITTER_RENDER_WORKERS, SITTER_RENDER_TIMEOUT),
    },
}
if SITTER_BROKER == "orm":
    Q_CLUSTER["orm"] = "default"
elif SITTER_BROKER.startswith(("redis://", "rediss://", "unix://")):
    Q_CLUSTER["redis"] = SITTER_BROKER
else:
    raise ImproperlyConfigured(
        f"SITTER_BROKER must be 'orm' or a redis:// URL, not {SITTER_BROKER!r}"
    )

# --- Sitter ---
SITTER_KEK = env_str("SITTER_KEK")  # base64 of 32 bytes; wins over the key file
SITTER_KEK_FILE = Path(env_str("SITTER_KEK_FILE", str(SITTER_KEYS_DIR / "kek.key")))
# Older KEKs that data keys may still be wrapped under while `rotate_kek` runs (README).
SITTER_KEK_PREVIOUS = env_list("SITTER_KEK_PREVIOUS", [])  # base64, comma-separated
SITTER_KEK_PREVIOUS_FILES = [Path(p) for p in env_list("SITTER_KEK_PREVIOUS_FILES", [])]
SITTER_PSEUDONYM_KEY_FILE = Path(
    env_str("SITTER_PSEUDONYM_KEY_FILE", str(SITTER_KEYS_DIR / "pseudonym.key"))
)
SITTER_BASE_MODEL = env_str("SITTER_BASE_MODEL", "tiny")
SITTER_MODELS_DIR = SITTER_DATA_DIR / "models"
SITTER_STYLES_DIR = env_str("SITTER_STYLES_DIR")


def _face_thresholds():
    """Overrides of the engine's face thresholds (portrait.engine.faces.FaceThresholds), as a
    JSON object, e.g. {"selfie_match_distance": 0.45}. The defaults are measured ones."""
    raw = env_str("SITTER_FACE_THRESHOLDS", "{}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ImproperlyConfigured(f"SITTER_FACE_THRESHOLDS is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ImproperlyConfigured("SITTER_FACE_THRESHOLDS must be a JSON object")
    return value


SITTER_FACE_THRESHOLDS = _face_thresholds()
SITTER_MIN_PHOTOS = env_int("SITTER_MIN_PHOTOS", 20)
SITTER_MAX_PHOTOS = env_int("SITTER_MAX_PHOTOS", 60)
SITTER_MIN_AGE = env_int("SITTER_MIN_AGE", 14)
SITTER_MAX_UPLOAD_BYTES = env_int("SITTER_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
SITTER_MAX_UPLOAD_PIXELS = env_int("SITTER_MAX_UPLOAD_PIXELS", 50_000_000)
SITTER_UPLOAD_TTL_HOURS = env_float("SITTER_UPLOAD_TTL", 72)
SITTER_TRAIN_STEPS = env_int("SITTER_TRAIN_STEPS", 0)  # 0: chosen from the number of photos
SITTER_TRAIN_RESOLUTION = env_int("SITTER_TRAIN_RESOLUTION", 0)  # 0: the base model's own
# LoRA rank, alpha and learning rate; 0: the trainer's defaults, justified in
# portrait/engine/training.py (TrainingConfig).
SITTER_TRAIN_RANK = env_int("SITTER_TRAIN_RANK", 0)
SITTER_TRAIN_ALPHA = env_float("SITTER_TRAIN_ALPHA", 0)
SITTER_TRAIN_LR = env_float("SITTER_TRAIN_LR", 0)
SITTER_TRAIN_CHECKPOINT_EVERY = env_int("SITTER_TRAIN_CHECKPOINT_EVERY", 0)
SITTER_TRAIN_GRADIENT_CHECKPOINTING = env_bool("SITTER_TRAIN_GRADIENT_CHECKPOINTING", False)
# "Make it look more like me": training steps of a refinement, and renders its likeness is
# measured on; 0: the defaults in portrait/refinement.py.
SITTER_REFINE_STEPS = env_int("SITTER_REFINE_STEPS", 0)
SITTER_REFINE_RENDERS = env_int("SITTER_REFINE_RENDERS", 0)
SITTER_RENDER_CANDIDATES = env_int("SITTER_RENDER_CANDIDATES", 0)  # 0: the style's own
SITTER_RENDER_STEPS = env_int("SITTER_RENDER_STEPS", 0)  # 0: the style's own
# The C2PA signing chain (leaf first) and key; `sitter_setup` creates a self-hosted chain here
# unless the operator points these at their own.
SITTER_SIGNING_DIR = SITTER_KEYS_DIR / "c2pa"
SITTER_SIGNING_CERT = env_str("SITTER_SIGNING_CERT", str(SITTER_SIGNING_DIR / "c2pa-chain.pem"))
SITTER_SIGNING_KEY = env_str("SITTER_SIGNING_KEY", str(SITTER_SIGNING_DIR / "c2pa-signing-key.pem"))
SITTER_TSA_URL = env_str("SITTER_TSA_URL") or None
# Who made the output, for the AIGC metadata label: the operator, never a person.
SITTER_PRODUCER = env_str("SITTER_PRODUCER", "Sitter")
SITTER_LABEL_POSITION = env_str("SITTER_LABEL_POSITION", "bottom-right")
SITTER_ID_PHOTO_LABEL_POSITION = env_str("SITTER_ID_PHOTO_LABEL_POSITION", "bottom-right")
# Erasure requests: answered within this many days (GDPR Art. 12(3): one month), which an
# officer may extend once, with a reason, by SITTER_ERASURE_EXTENSION_DAYS (Art. 12(3): by
# two further months at most).
SITTER_ERASURE_DAYS = env_int("SITTER_ERASURE_DAYS", 30)
SITTER_ERASURE_EXTENSION_DAYS = env_int("SITTER_ERASURE_EXTENSION_DAYS", 60)
# The Ed25519 key that signs erasure certificates: 32 random bytes (created 0600 on first
# start) or a PEM private key of the operator's.
SITTER_CERTIFICATE_KEY_FILE = Path(
    env_str("SITTER_CERTIFICATE_KEY_FILE", str(SITTER_KEYS_DIR / "certificate-signing.key"))
)
# Staff log in to the admin with a TOTP code; authenticator apps show this issuer's name.
OTP_TOTP_ISSUER = env_str("SITTER_OTP_ISSUER", "Sitter")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("SITTER_LOG_LEVEL", "INFO")},
}
