"""FacePass settings: one file, every deployment difference comes from the environment.

The README's configuration table lists each variable. Bad values raise
ImproperlyConfigured with the variable's name.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from common import queues
from facepass_site.envconfig import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_path,
    env_rate,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
_DEV_SECRET_KEY = "dev-only-insecure-key"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else None)
if not SECRET_KEY or (not DEBUG and SECRET_KEY == _DEV_SECRET_KEY):
    raise ImproperlyConfigured("SECRET_KEY must be set in the environment when DEBUG is off.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# HTTPS. Production sets FACEPASS_HTTPS=1: secure cookies, HSTS, http -> https redirects
# (`manage.py check --deploy` warns until it is set). Off by default so that `make run` and
# the tests work over plain http on 127.0.0.1.
FACEPASS_HTTPS = env_bool("FACEPASS_HTTPS", False)
# Reverse proxies in front of Django (0: clients connect directly). With N > 0, the client's
# address is the N-th X-Forwarded-For entry from the right and X-Forwarded-Proto is trusted.
FACEPASS_TRUSTED_PROXIES = env_int("FACEPASS_TRUSTED_PROXIES", 0, minimum=0)
if FACEPASS_TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = FACEPASS_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain http
SESSION_COOKIE_SECURE = FACEPASS_HTTPS
CSRF_COOKIE_SECURE = FACEPASS_HTTPS
SECURE_HSTS_SECONDS = env_int(
    "FACEPASS_HSTS_SECONDS", 365 * 24 * 3600 if FACEPASS_HTTPS else 0, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("FACEPASS_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("FACEPASS_HSTS_PRELOAD", True)
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Lowest layer first; each app imports only those above it in this list (and common/).
    "events",
    "audit",
    "webhooks",
    "attendees",
    "recognition",
    "enrollment",
    "checkins",
    "privacy",
    "api",
    "pages",
]

MIDDLEWARE = [
    "facepass_site.body_limits.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before common: the language comes from the switcher's cookie, else the
    # browser's Accept-Language, else LANGUAGE_CODE (Spanish).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so its process_exception sees view exceptions first (PostgreSQL or Redis down: 503).
    "common.unavailable.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "facepass_site.urls"
WSGI_APPLICATION = "facepass_site.wsgi.application"

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

DATABASE_URL = env_url(
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/facepass", ("postgres", "postgresql")
)
# Health checks: a connection that died with a PostgreSQL restart is replaced at the start of the
# next request instead of failing it (a restart costs only the requests in flight).
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6379/0", ("redis", "rediss"))
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "facepass",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Spanish first (the product's first market, Colombian Spanish), English second. The catalogue
# lives in locale/ (README, "Translations"); tests/test_translations.py fails when it is stale.
LANGUAGE_CODE = "es"
LANGUAGES = [("es", "Español"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "facepass_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
# The default of Event.time_zone; pages show an event's times in the event's own zone.
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_path("STATIC_ROOT", BASE_DIR / "staticfiles")

# Public media (nothing biometric) and private media (selfies) live in different
# trees; private files are only ever served through an authenticated view.
MEDIA_URL = "media/"
MEDIA_ROOT = env_path("MEDIA_ROOT", BASE_DIR / "var" / "media")
FACEPASS_PRIVATE_MEDIA_ROOT = env_path(
    "FACEPASS_PRIVATE_MEDIA_ROOT", BASE_DIR / "var" / "private_media"
)
if FACEPASS_PRIVATE_MEDIA_ROOT == MEDIA_ROOT or MEDIA_ROOT in FACEPASS_PRIVATE_MEDIA_ROOT.parents:
    raise ImproperlyConfigured(
        "FACEPASS_PRIVATE_MEDIA_ROOT must not be inside MEDIA_ROOT: selfies would be public."
    )

# Celery: JSON only, late acks so a killed worker's task is redelivered.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180, minimum=1)
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_DEFAULT_QUEUE = queues.DEFAULT
# Redis redelivers an unacknowledged task after this many seconds; it must exceed
# the hard time limit or long tasks would run twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int(
        "CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 60, minimum=CELERY_TASK_TIME_LIMIT + 1
    )
}
# With Redis down, a web request learns it within about a second (and answers 503) instead of
# retrying the publish for the default 1.6 s x 3.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.3,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
CELERY_TASK_ROUTES = queues.ROUTES
# `celery beat` (started by scripts/run.sh): biometric data past its retention goes hourly.
CELERY_BEAT_SCHEDULE: dict = {
    "purge-expired-biometrics": {
        "task": queues.Task.BIOMETRICS_PURGE,
        "schedule": 3600.0,
        "options": {"queue": queues.DEFAULT, "expires": 3000},
    },
    # Photos whose task was lost (worker killed, Redis down at upload) are queued again.
    "requeue-lost-enrollments": {
        "task": queues.Task.ENROLLMENT_REQUEUE_LOST,
        "schedule": float(env_int("FACEPASS_ENROLL_REQUEUE_INTERVAL_S", 60, minimum=1)),
        "options": {"queue": queues.DEFAULT, "expires": 50},
    },
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.authentication.HasApiKey"],
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiKeyRateThrottle"],
    # DRF's own JSON parser answers 500 to bodies nested deeper than the recursion limit.
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "FacePass API",
    "DESCRIPTION": "Face-verified event entry: events, ticket holders, enrollment, check-ins.",
    "VERSION": "1.0.0",
    # Swagger UI from the installed package: the docs page fetches nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # An override decides admit or deny: a choice set of its own next to the check-in's.
    # The getting-started guide and the webhooks page, as the description (api/guide.md).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.docs_guide.schema_guide_add",
    ],
    "ENUM_NAME_OVERRIDES": {
        "DecisionEnum": "events.models.CheckIn.Decision",
        "OverrideDecisionEnum": ["admit", "deny"],
    },
}

# --- Face pipeline -----------------------------------------------------------
FACEPASS_DETECTOR = env_choice("FACEPASS_DETECTOR", "yunet", ("yunet", "dlib-hog"))
_yunet = env_str("FACEPASS_YUNET_MODEL", "")
FACEPASS_YUNET_MODEL = str(Path(_yunet).expanduser().resolve()) if _yunet else ""
FACEPASS_BACKBONE_HANDLE = env_str(
    "FACEPASS_BACKBONE_HANDLE",
    "https://tfhub.dev/google/tf2-preview/mobilenet_v2/feature_vector/4",
)
FACEPASS_MODEL_CACHE_DIR = env_path("FACEPASS_MODEL_CACHE_DIR", BASE_DIR / "var" / "model_cache")
# dlib-resnet's network on onnxruntime (same output within 1e-6, ~3 ms a face) or dlib's own code.
FACEPASS_DLIB_RUNTIME = env_choice("FACEPASS_DLIB_RUNTIME", "onnx", ("onnx", "dlib"))
# One thread: worker processes are scaled by count, and one face is ~3 ms anyway.
FACEPASS_ONNX_THREADS = env_int("FACEPASS_ONNX_THREADS", 1, minimum=1)
# OpenCV's own pool (YuNet, resizing) per worker process, likewise: left at its default (every
# core), each of two processes on two cores ran detection 1.5x slower than alone (issue 17).
FACEPASS_OPENCV_THREADS = env_int("FACEPASS_OPENCV_THREADS", 1, minimum=1)
FACEPASS_UPLOAD_MAX_BYTES = env_int("FACEPASS_UPLOAD_MAX_BYTES", 8 * 1024 * 1024, minimum=1024)
FACEPASS_UPLOAD_MAX_PIXELS = env_int("FACEPASS_UPLOAD_MAX_PIXELS", 40_000_000, minimum=10_000)
# Workers decode a larger JPEG at 1/2, 1/4 or 1/8 scale, keeping at least this many pixels on
# its longer side (0: always in full). Twice the detector's 640: a face it can find in its
# 640-pixel copy still has the size the quality gate asks for (22 px).
FACEPASS_DECODE_SIDE = env_int("FACEPASS_DECODE_SIDE", 1280, minimum=0)
# Non-file request bodies (JSON with a base64 photo) may be as large as the largest photo in
# base64 (4/3 of the bytes) plus room for the other fields; anything larger is refused unread.
DATA_UPLOAD_MAX_MEMORY_SIZE = FACEPASS_UPLOAD_MAX_BYTES * 4 // 3 + 64 * 1024
# Whole request bodies: the gate page sends up to 3 frames, the admin's CSV import 20 MB.
# A larger Content-Length is answered 413 before anything is read (set the reverse proxy's
# limit, e.g. nginx client_max_body_size, to the same value).
FACEPASS_REQUEST_MAX_BYTES = env_int(
    "FACEPASS_REQUEST_MAX_BYTES",
    max(3 * FACEPASS_UPLOAD_MAX_BYTES, 20 * 1024 * 1024) + 1024 * 1024,
    minimum=1024 * 1024,
)
# Rate limits "N/period" (see README, Security): counted in Redis per client IP, ticket,
# ticket holder or API key. A whole stadium may share one carrier-NAT address, so the
# per-IP limits are generous and the per-ticket ones strict.
FACEPASS_RATE_REGISTER_IP = env_rate("FACEPASS_RATE_REGISTER_IP", "600/10m")
FACEPASS_RATE_REGISTER_FAILURES_IP = env_rate("FACEPASS_RATE_REGISTER_FAILURES_IP", "100/10m")
FACEPASS_RATE_REGISTER_TICKET = env_rate("FACEPASS_RATE_REGISTER_TICKET", "10/15m")
FACEPASS_RATE_REGISTER_HOLDER = env_rate("FACEPASS_RATE_REGISTER_HOLDER", "30/10m")
FACEPASS_RATE_API_KEY = env_rate("FACEPASS_RATE_API_KEY", "3000/1m")
# Failed ticket look-ups answer after a delay doubling from 0.25 s past the third failure of
# an address in the window, up to this many seconds (0: no delay).
FACEPASS_REGISTER_FAILURE_DELAY_MAX = env_float("FACEPASS_REGISTER_FAILURE_DELAY_MAX", 2.0)
FACEPASS_MAX_PHOTOS_PER_HOLDER = env_int("FACEPASS_MAX_PHOTOS_PER_HOLDER", 5, minimum=1)
FACEPASS_ENROLL_BATCH_SIZE = env_int("FACEPASS_ENROLL_BATCH_SIZE", 16, minimum=1)
# A photo still pending this long while the recognition queue is empty lost its task (queued
# while Redis was down): the requeue task queues it again.
FACEPASS_ENROLL_REQUEUE_PENDING_AFTER_S = env_int(
    "FACEPASS_ENROLL_REQUEUE_PENDING_AFTER_S", 300, minimum=1
)
FACEPASS_GATE_TIMEOUT_SECONDS = env_float("FACEPASS_GATE_TIMEOUT_SECONDS", 5.0)
# A gate task waits this long for a worker process still loading the face model, then answers
# "loading" (the web answers 503): under FACEPASS_GATE_TIMEOUT_SECONDS, so the answer arrives.
FACEPASS_GATE_MODEL_WAIT_SECONDS = env_float("FACEPASS_GATE_MODEL_WAIT_SECONDS", 3.0)
# Celery kills a pool process that has not reported up within this many seconds; face models
# load in a thread after the report (recognition.inference.load_in_background).
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env_float("CELERY_WORKER_PROC_ALIVE_TIMEOUT", 4.0)
# The gate page shows a result this long, then "Ready" for the next person (a green ADMIT must
# not stay up for whoever steps up next); staff typing an override keep it up.
FACEPASS_GATE_RESULT_SECONDS = env_float("FACEPASS_GATE_RESULT_SECONDS", 6.0)
# 1:N: the best holder must beat the second best by this much similarity, else REVIEW.
FACEPASS_GATE_1N_MARGIN = env_float("FACEPASS_GATE_1N_MARGIN", 0.01)
# 1:N search: exact up to this many embeddings in an event, its own HNSW index beyond
# (recognition/search_index.py). The defaults below are measured, not guessed: the figures and
# how they were taken are in benchmarks/README.md ("Search at scale") and docs/deployment.md.
FACEPASS_SEARCH_INDEX_MIN_ROWS = env_int("FACEPASS_SEARCH_INDEX_MIN_ROWS", 10_000, minimum=1)
FACEPASS_HNSW_M = env_int("FACEPASS_HNSW_M", 32, minimum=4)
FACEPASS_HNSW_EF_CONSTRUCTION = env_int("FACEPASS_HNSW_EF_CONSTRUCTION", 200, minimum=16)
# maintenance_work_mem of each index build's session: a graph that does not fit builds slowly.
FACEPASS_INDEX_BUILD_MEMORY = env_str("FACEPASS_INDEX_BUILD_MEMORY", "256MB")
FACEPASS_HNSW_EF_SEARCH = env_int("FACEPASS_HNSW_EF_SEARCH", 800, minimum=10)
# Face-only gates search a copy of the event's faces held in each web process, exactly
# (recognition/gallery.py): up to this many embeddings in all per process (512 bytes each with
# 128 dimensions; 0: always search PostgreSQL). A bigger event is searched in PostgreSQL.
FACEPASS_GALLERY_MEMORY_ROWS = env_int("FACEPASS_GALLERY_MEMORY_ROWS", 500_000, minimum=0)
# Every copy is loaded again after this long, whatever changed: the bound on how long a face
# deleted by a path that does not announce it stays in a process's memory.
FACEPASS_GALLERY_MAX_AGE_SECONDS = env_float("FACEPASS_GALLERY_MAX_AGE_SECONDS", 600.0)
FACEPASS_CONSENT_TEXT_VERSION = env_str("FACEPASS_CONSENT_TEXT_VERSION", "2026-12")
# Registration links go out in the ticketing system's e-mail; two weeks covers the usual
# gap between ticket purchase and event.
FACEPASS_REGISTRATION_LINK_MAX_AGE = env_int(
    "FACEPASS_REGISTRATION_LINK_MAX_AGE", 14 * 24 * 3600, minimum=60
)
FACEPASS_PUBLIC_BASE_URL = env_str("FACEPASS_PUBLIC_BASE_URL", "http://127.0.0.1:8000")
# Webhooks: a receiver that is slow must not hold a worker; a down one is retried after
# base, 2·base, 4·base… seconds until the attempts run out, then marked failed.
FACEPASS_WEBHOOK_TIMEOUT_SECONDS = env_float("FACEPASS_WEBHOOK_TIMEOUT_SECONDS", 5.0)
FACEPASS_WEBHOOK_MAX_ATTEMPTS = env_int("FACEPASS_WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
FACEPASS_WEBHOOK_BACKOFF_SECONDS = env_float("FACEPASS_WEBHOOK_BACKOFF_SECONDS", 10.0)
if FACEPASS_WEBHOOK_TIMEOUT_SECONDS <= 0 or FACEPASS_WEBHOOK_BACKOFF_SECONDS < 0:
    raise ImproperlyConfigured(
        "FACEPASS_WEBHOOK_TIMEOUT_SECONDS must be positive and "
        "FACEPASS_WEBHOOK_BACKOFF_SECONDS must not be negative."
    )
# Enrollment quality gates; the defaults were tuned on celeba-dev/val (see README).
FACEPASS_QUALITY = {
    "min_face_px": env_float("FACEPASS_QUALITY_MIN_FACE_PX", 0.0) or None,
    "min_sharpness": env_float("FACEPASS_QUALITY_MIN_SHARPNESS", 0.0) or None,
    "min_brightness": env_float("FACEPASS_QUALITY_MIN_BRIGHTNESS", 0.0) or None,
    "max_brightness": env_float("FACEPASS_QUALITY_MAX_BRIGHTNESS", 0.0) or None,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
