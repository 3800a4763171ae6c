"""Vigia's one settings module. Every value comes from the environment (docs/operations.md has the table);
the defaults give the embedded set-up: SQLite, a filesystem broker, clips in a local folder.
"""

import os as _os
from pathlib import Path

import environ
from celery.schedules import crontab

from inference import defaults
from reviewapp.project import broker

BASE_DIR = Path(__file__).resolve().parents[2]  # the repository: reviewapp/project/settings.py
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# The fallback is for development only; `manage.py check --deploy` rejects it.
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-development-key-set-SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "reviewapp",
    "labeling",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the session's choice (the header's switch), else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The viewer's time zone: a customer's, a reviewer's choice, else TIME_ZONE (needs the user).
    "reviewapp.core.timezones.TimezoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "reviewapp.project.urls"
WSGI_APPLICATION = "reviewapp.project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.i18n",  # LANGUAGE_CODE, LANGUAGES
                "django.template.context_processors.tz",  # TIME_ZONE (the viewer's)
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'vigia.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web app and the worker write to the same file: wait for the lock instead of failing,
    # and take it at the start of a transaction so two writers never deadlock on an upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so a real worker process in the tests sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-vigia.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's standard four; `add_user --password` applies them too.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# English and Brazilian Portuguese (locale/pt_BR, compiled by `make install` and the image).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("pt-br", "Português (Brasil)")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- files ----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
CLIP_BUCKET = env.str("CLIP_BUCKET", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_REGION = env.str("AWS_REGION", default="us-east-1")
# Clips from the bucket, by event (reviewapp.review.events): the SQS queue the clip bucket's
# ObjectCreated notifications go to. Set, `consume_clip_events` runs (needs CLIP_BUCKET).
CLIP_EVENTS_QUEUE_URL = env.str("CLIP_EVENTS_QUEUE_URL", default="")
AWS_SQS_ENDPOINT_URL = env.str("AWS_SQS_ENDPOINT_URL", default="") or None
# Messages one consumer handles at once (threads; at most 10, one receive's batch).
CLIP_EVENTS_CONCURRENCY = env.int("CLIP_EVENTS_CONCURRENCY", default=4)
if CLIP_BUCKET:
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": CLIP_BUCKET,
            "endpoint_url": AWS_S3_ENDPOINT_URL,
            "region_name": AWS_REGION,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_expire": 600,
            # Marks what Vigia writes itself (uploaded clips, per-clip detail): the bucket's
            # event consumer skips those (reviewapp.review.ingest_reference.OWN_OBJECT_METADATA).
            "object_parameters": {"Metadata": {"vigia-origin": "app"}},
        },
    }
else:
    DEFAULT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND",
            default="django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
# Uploads bigger than this go to a temporary file, which OpenCV needs anyway.
FILE_UPLOAD_MAX_MEMORY_SIZE = 0
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- clips and the detector -----------------------------------------------------------------
CLIP_MAX_BYTES = env.int("CLIP_MAX_BYTES", default=200 * 1024 * 1024)
CLIP_MAX_SECONDS = env.float("CLIP_MAX_SECONDS", default=180.0)
# Checked before a frame is decoded (inference.video.VideoLimits); docs/operations.md.
CLIP_MAX_WIDTH = env.int("CLIP_MAX_WIDTH", default=4096)
CLIP_MAX_HEIGHT = env.int("CLIP_MAX_HEIGHT", default=4096)
CLIP_MIN_WIDTH = env.int("CLIP_MIN_WIDTH", default=16)
CLIP_MIN_HEIGHT = env.int("CLIP_MIN_HEIGHT", default=16)
CLIP_MAX_PIXELS_PER_SECOND = env.float("CLIP_MAX_PIXELS_PER_SECOND", default=4096 * 2160 * 30.0)
CLIP_MAX_VIDEO_STREAMS = env.int("CLIP_MAX_VIDEO_STREAMS", default=2)
SAMPLE_FPS = env.float("SAMPLE_FPS", default=defaults.SAMPLE_FPS)
MIN_CHANGE = env.float("MIN_CHANGE", default=defaults.MIN_CHANGE)
MAX_STILL_SECONDS = env.float("MAX_STILL_SECONDS", default=defaults.MAX_STILL_SECONDS)
DETECT_BATCH = env.int("DETECT_BATCH", default=defaults.DETECT_BATCH)
DETECTOR = env.str("DETECTOR", default=defaults.DETECTOR)
# The browser copy of clips browsers cannot play (reviewapp/review/preview.py): H.264 at most
# this tall (the pages' player is at most 420 px tall), at this x264 CRF (higher: smaller and
# blurrier; 23 is x264's default) and preset (ultrafast: less CPU, about twice the bytes).
PREVIEW_MAX_HEIGHT = env.int("PREVIEW_MAX_HEIGHT", default=480)
PREVIEW_CRF = env.int("PREVIEW_CRF", default=30)
PREVIEW_PRESET = env.str("PREVIEW_PRESET", default="veryfast")
PREVIEW_CLIPS = env.str("PREVIEW_CLIPS", default="all")  # or "shown": alerts and review items only
if PREVIEW_PRESET not in ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"PREVIEW_PRESET={PREVIEW_PRESET!r}: an x264 preset, ultrafast to medium")
if PREVIEW_CLIPS not in ("all", "shown"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"PREVIEW_CLIPS={PREVIEW_CLIPS!r}: all or shown")
TORCH_THREADS = env.int("TORCH_THREADS", default=0)  # 0: torch's own default
DEFAULT_THRESHOLD = env.float("DEFAULT_THRESHOLD", default=defaults.THRESHOLD)
DEFAULT_REVIEW_BAND = env.float("DEFAULT_REVIEW_BAND", default=defaults.REVIEW_BAND)
AUDIT_SAMPLE_RATE = env.float("AUDIT_SAMPLE_RATE", default=0.01)
REVIEW_CLAIM_SECONDS = env.int("REVIEW_CLAIM_SECONDS", default=300)
REVIEW_UNDO_SECONDS = env.int("REVIEW_UNDO_SECONDS", default=10)  # the queue page's U key
ALERT_SNS_TOPIC_ARN = env.str("ALERT_SNS_TOPIC_ARN", default="")
AWS_SNS_ENDPOINT_URL = env.str("AWS_SNS_ENDPOINT_URL", default="") or None
# --- alerts (the outbox, docs/operations.md#alerts) ---
ALERT_RETRY_BASE_SECONDS = env.float("ALERT_RETRY_BASE_SECONDS", default=5.0)  # 5, 10, 20... s
ALERT_RETRY_MAX_SECONDS = env.float("ALERT_RETRY_MAX_SECONDS", default=60.0)
# A try holds its alert this long: longer than the SNS client's worst case (2 x (3 + 5) s).
ALERT_SEND_LEASE_SECONDS = env.float("ALERT_SEND_LEASE_SECONDS", default=60.0)
ALERT_SWEEP_SECONDS = env.float("ALERT_SWEEP_SECONDS", default=30.0)

# --- thresholds and suppression rules (docs/suppression.md) ---
SUPPRESSION_RULE_DAYS = env.float("SUPPRESSION_RULE_DAYS", default=defaults.SUPPRESSION_RULE_DAYS)  # 0: never expire
SUPPRESSION_IOU_MIN = env.float("SUPPRESSION_IOU_MIN", default=0.5)
SUPPRESSION_SIMILARITY_MIN = env.float("SUPPRESSION_SIMILARITY_MIN", default=0.85)
SUPPRESSION_JITTER = env.float("SUPPRESSION_JITTER", default=defaults.SUPPRESSION_JITTER)
SUPPRESSION_MAX_RULES_PER_REVIEW = env.int(
    "SUPPRESSION_MAX_RULES_PER_REVIEW", default=defaults.SUPPRESSION_MAX_RULES_PER_REVIEW
)
# Share of the clips that a rule kept from alerting (or from the review band) sent to review
# anyway: without them nobody would ever see a rule that hides a person, and flag it.
SUPPRESSION_AUDIT_RATE = env.float("SUPPRESSION_AUDIT_RATE", default=0.1)
SUPPRESSION_PAUSE_FLAGGED = env.bool("SUPPRESSION_PAUSE_FLAGGED", default=True)
THRESHOLD_TARGET_RECALL = env.float("THRESHOLD_TARGET_RECALL", default=0.99)
THRESHOLD_MIN_REVIEWS = env.int("THRESHOLD_MIN_REVIEWS", default=30)
THRESHOLD_MIN_POSITIVES = env.int("THRESHOLD_MIN_POSITIVES", default=10)
THRESHOLD_WINDOW_DAYS = env.int("THRESHOLD_WINDOW_DAYS", default=90)  # reviews older than this are not evidence
THRESHOLD_REFRESH_SECONDS = env.float("THRESHOLD_REFRESH_SECONDS", default=3600.0)
for _name in (
    "SUPPRESSION_IOU_MIN",
    "SUPPRESSION_SIMILARITY_MIN",
    "SUPPRESSION_AUDIT_RATE",
    "SUPPRESSION_JITTER",
    "THRESHOLD_TARGET_RECALL",
):
    if not 0 <= globals()[_name] <= 1:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"{_name} must be between 0 and 1")

# --- celery ---------------------------------------------------------------------------------
BROKER_DIR = Path(env.str("BROKER_DIR", default=str(VAR_DIR / "broker")))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "reviewapp.tasks.process_clip": {"queue": "inference"},
    # The browser copy scales with the clips: the same workers, after the clip's own result.
    "reviewapp.tasks.make_preview": {"queue": "inference"},
}
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
# The clip task's own limits (reviewapp.tasks.process_clip), fitting a 1-minute clip: the slowest
# measured (bench_pipeline.py, slow pan, torch) takes 3.7 s quiet, about 3x that at load
# average 7; 45 / 60 s leave a 4-12x margin. Exports and drift checks keep the global limits.
CLIP_TASK_SOFT_TIME_LIMIT = env.int("CLIP_TASK_SOFT_TIME_LIMIT", default=45)
CLIP_TASK_TIME_LIMIT = env.int("CLIP_TASK_TIME_LIMIT", default=60)
# How long a new pool process may take to start: it loads the detector first (worker_process_init).
# Celery's 4 s default killed every new process of a torch worker (3.1 s idle, 5.4 s under load),
# forever; onnxruntime loads in 0.6 s, torch.compile warms up for 20-45 s.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env.float("WORKER_PROC_ALIVE_TIMEOUT", default=90.0)
# Redis and SQS give an unacked message to another worker after this (see reviewapp/project/broker.py).
BROKER_VISIBILITY_TIMEOUT = env.int("BROKER_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 20)
CELERY_BROKER_TRANSPORT_OPTIONS, _sqs_read_write_url = broker.transport_options(
    broker_url=CELERY_BROKER_URL,
    broker_dir=BROKER_DIR,
    visibility_timeout=BROKER_VISIBILITY_TIMEOUT,
    sqs_endpoint_url=AWS_SQS_ENDPOINT_URL,
    # CELERY_SQS_QUEUE_URL_INFERENCE, CELERY_SQS_QUEUE_URL_DEFAULT, CELERY_SQS_QUEUE_URL_EXPORTS
    sqs_queue_urls={q: env.str(f"CELERY_SQS_QUEUE_URL_{q.upper()}") for q in broker.QUEUES}
    if CELERY_BROKER_URL.startswith("sqs://")
    else None,
    region=AWS_REGION,
)
if _sqs_read_write_url:
    CELERY_BROKER_READ_URL = CELERY_BROKER_WRITE_URL = _sqs_read_write_url
# A task that met a database or broker error gives its message back after this pause.
TRANSIENT_RETRY_SECONDS = env.float("TRANSIENT_RETRY_SECONDS", default=5.0)
# Tries of a clip whose worker died while processing it (killed, out of memory, the hard time
# limit) before it is failed: a clip that keeps killing its worker must not kill it forever.
CLIP_MAX_ATTEMPTS = env.int("CLIP_MAX_ATTEMPTS", default=3)
# Beat sends again the clips queued or processing for longer than STUCK_CLIP_SECONDS (a task
# lost with its worker's main process, or a broker that was down), every STUCK_CLIP_SWEEP_SECONDS.
# They follow the clip task's own limit (below), not the global one: a clip whose worker's main
# process died is sent again after at most STUCK_CLIP_SECONDS + STUCK_CLIP_SWEEP_SECONDS (100 s).
STUCK_CLIP_SECONDS = env.int("STUCK_CLIP_SECONDS", default=CLIP_TASK_TIME_LIMIT + 10)
STUCK_CLIP_SWEEP_SECONDS = env.float("STUCK_CLIP_SWEEP_SECONDS", default=30.0)
# A queued clip's message is lost only with the broker's data: sent again after this long.
STUCK_QUEUED_CLIP_SECONDS = env.int("STUCK_QUEUED_CLIP_SECONDS", default=300)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "requeue-stuck-clips": {
        "task": "reviewapp.tasks.requeue_stuck_clips",
        "schedule": STUCK_CLIP_SWEEP_SECONDS,
        "options": {"expires": STUCK_CLIP_SWEEP_SECONDS},
    },
    "send-due-alerts": {
        "task": "reviewapp.tasks.send_due_alerts",
        "schedule": ALERT_SWEEP_SECONDS,
        "options": {"expires": ALERT_SWEEP_SECONDS},
    },
    "refresh-threshold-recommendations": {
        "task": "reviewapp.tasks.refresh_threshold_recommendations",
        "schedule": THRESHOLD_REFRESH_SECONDS,
    },
}
CELERY_TIMEZONE = TIME_ZONE

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "reviewapp.core.parsers.SafeJSONParser",  # deep nesting -> 400, not a RecursionError 500
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "reviewapp.core.errors.api_exception_handler",
    # Per user and per anonymous address, on the shared cache (reviewapp/core/throttling.py): 429.
    "DEFAULT_THROTTLE_CLASSES": [
        "reviewapp.core.throttling.ApiUserThrottle",
        "reviewapp.core.throttling.ApiAnonThrottle",
    ],
    "DEFAULT_PAGINATION_CLASS": "reviewapp.core.pagination.CappedLimitOffsetPagination",  # limit <= 200
    "PAGE_SIZE": 50,
}
API_THROTTLE_USER = env.str("API_THROTTLE_USER", default="1200/min")  # empty: off
API_THROTTLE_ANON = env.str("API_THROTTLE_ANON", default="60/min")
# The login page: a username, or an address, is refused (429) after this many wrong passwords
# within LOGIN_BLOCK_SECONDS (0: off). Behind a proxy every client has the proxy's address.
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=10)
LOGIN_MAX_FAILURES_PER_ADDRESS = env.int("LOGIN_MAX_FAILURES_PER_ADDRESS", default=50)
LOGIN_BLOCK_SECONDS = env.int("LOGIN_BLOCK_SECONDS", default=900)
# The throttles' and the login limit's counters: shared by every web process when CACHE_URL is
# Redis (compose: redis://redis:6379/1); the embedded default is per process.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
SPECTACULAR_SETTINGS = {
    "TITLE": "Vigia API",
    "DESCRIPTION": "Clip ingest, review queue and customer false-alert reports.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs page answer logged-in users (a token or a session), not the internet.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation's error answers, in the one error shape (reviewapp/core/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "reviewapp.core.openapi.add_error_responses",
    ],
}

# --- production hardening (what `manage.py check --deploy` asks for) --------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG and env.bool("HTTPS", default=False))
# Paths answered over plain HTTP too: the load balancer's health check (reviewapp/core/health.py).
SECURE_REDIRECT_EXEMPT = env.list("SECURE_REDIRECT_EXEMPT", default=["^healthz/$"])
SESSION_COOKIE_SECURE = env.bool("HTTPS", default=False)
CSRF_COOKIE_SECURE = env.bool("HTTPS", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_PROXY", default=False) else None
X_FRAME_OPTIONS = "DENY"
# `check --deploy --fail-level WARNING` runs at every start (infra/entrypoint.sh). Without HTTPS
# (plain HTTP, e.g. the local compose set-up) the TLS-only warnings cannot be met: silenced;
# with HTTPS=1 they are enforced. The secrets' checks (reviewapp/core/checks.py) never are.
_TLS_ONLY_CHECKS = ["security.W004", "security.W008", "security.W012", "security.W016"]
SILENCED_SYSTEM_CHECKS = env.list(
    "SILENCED_SYSTEM_CHECKS", default=[] if env.bool("HTTPS", default=False) else _TLS_ONLY_CHECKS
)

# --- labels out (labeling/) -----------------------------------------------------------------
# Each integration is off while its URL / table is unset.
LABEL_STUDIO_URL = env.str("LABEL_STUDIO_URL", default="")
LABEL_STUDIO_API_KEY = env.str("LABEL_STUDIO_API_KEY", default="")
LABEL_STUDIO_PROJECT = env.str("LABEL_STUDIO_PROJECT", default="Vigia person review")
LABEL_STUDIO_WEBHOOK_SECRET = env.str("LABEL_STUDIO_WEBHOOK_SECRET", default="")
VIGIA_PUBLIC_URL = env.str("VIGIA_PUBLIC_URL", default="http://127.0.0.1:8000")
LABELING_MEDIA_URL_SECONDS = env.int("LABELING_MEDIA_URL_SECONDS", default=7 * 24 * 3600)
DYNAMODB_TABLE = env.str("DYNAMODB_TABLE", default="")
AWS_DYNAMODB_ENDPOINT_URL = env.str("AWS_DYNAMODB_ENDPOINT_URL", default="") or None
SYNC_INTERVAL_SECONDS = env.float("SYNC_INTERVAL_SECONDS", default=5.0)
SYNC_BATCH = env.int("SYNC_BATCH", default=500)
SYNC_MAX_ATTEMPTS = env.int("SYNC_MAX_ATTEMPTS", default=30)  # ~2 h of 5 s..5 min backoff
# Discovery looks back this far before the newest change already queued (late commits).
SYNC_DISCOVERY_MARGIN_SECONDS = env.int("SYNC_DISCOVERY_MARGIN_SECONDS", default=600)
# A tick not started within two intervals is dropped: the next one does the same work.
# Scheduled only when there is somewhere to send labels.
if LABEL_STUDIO_URL or DYNAMODB_TABLE:
    CELERY_BEAT_SCHEDULE["labeling-sync"] = {
        "task": "labeling.tasks.sync_pending",
        "schedule": SYNC_INTERVAL_SECONDS,
        "options": {"expires": 2 * SYNC_INTERVAL_SECONDS},
    }
CELERY_TASK_ROUTES["labeling.tasks.*"] = {"queue": "default"}
# Training-set exports and the near-threshold extraction (labeling/export.py, extraction.py).
# A destination is a local folder or s3://bucket/prefix (S3 through AWS_S3_ENDPOINT_URL/AWS_REGION).
EXPORT_ROOT = Path(env.str("EXPORT_ROOT", default=str(VAR_DIR / "exports")))
EXPORT_OUT = env.str("EXPORT_OUT", default="")  # default destination; EXPORT_ROOT when unset
EXPORT_SOFT_TIME_LIMIT = env.int("EXPORT_SOFT_TIME_LIMIT", default=3 * 3600)
EXPORT_TIME_LIMIT = env.int("EXPORT_TIME_LIMIT", default=3 * 3600 + 300)
EXPORT_SCHEDULE_DAYS = env.int("EXPORT_SCHEDULE_DAYS", default=0)  # 0: all reviewed clips
EXPORT_SCHEDULE_OPTIONS = env.json("EXPORT_SCHEDULE_OPTIONS", default={})  # e.g. {"ratio": 1.5, "camera_cap": 200}
EXTRACTION_OUT = env.str("EXTRACTION_OUT", default="")  # EXPORT_ROOT/near-threshold when unset
EXTRACTION_PERIOD_SECONDS = env.int("EXTRACTION_PERIOD_SECONDS", default=3600)
EXTRACTION_BAND = env.float("EXTRACTION_BAND", default=0.1)
EXTRACTION_PER_CAMERA_CAP = env.int("EXTRACTION_PER_CAMERA_CAP", default=20)
# Select from DynamoDB's by_day_score index when DYNAMODB_TABLE is set (the database otherwise).
EXTRACTION_FROM_DYNAMODB = env.bool("EXTRACTION_FROM_DYNAMODB", default=True)
CELERY_BEAT_SCHEDULE["labeling-near-threshold"] = {
    "task": "labeling.tasks.extract_near_threshold",
    "schedule": float(EXTRACTION_PERIOD_SECONDS),
    "options": {"expires": EXTRACTION_PERIOD_SECONDS},
}
# Exports run for hours: their own queue and worker, so they never hold the default worker's
# processes (the sync ticks, extraction and drift checks run there).
CELERY_TASK_ROUTES["labeling.tasks.run_export"] = {"queue": "exports"}
CELERY_BEAT_SCHEDULE["labeling-weekly-export"] = {
    "task": "labeling.tasks.run_export",
    "schedule": crontab(minute=0, hour=3, day_of_week="mon"),
}

# --- the verifier and MLflow (inference/verifier.py, inference/tracking.py) -----------------
# VERIFIER: empty (off), a model file, or a registry reference such as
# models:/vigia-verifier@production (resolved once per worker process, at start).
VERIFIER = env.str("VERIFIER", default="")
MLFLOW_TRACKING_URI = env.str("MLFLOW_TRACKING_URI", default=f"sqlite:///{VAR_DIR / 'mlflow' / 'mlflow.db'}")

# --- monitoring (metrics, logs, error analysis, drift) ----------------------------------------
# /metrics answers staff sessions, `Authorization: Bearer METRICS_TOKEN`, and clients whose
# address (REMOTE_ADDR, never a forwarded header) is in METRICS_ALLOWED_NETWORKS; nobody else.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
METRICS_CAMERA_GROUP = env.str("METRICS_CAMERA_GROUP", default="customer")
if METRICS_CAMERA_GROUP not in ("customer", "explicit"):
    raise ValueError("METRICS_CAMERA_GROUP must be customer or explicit")
METRICS_MAX_CAMERA_GROUPS = env.int("METRICS_MAX_CAMERA_GROUPS", default=50)
METRICS_WINDOW_HOURS = env.int("METRICS_WINDOW_HOURS", default=24)
METRICS_CELERY_QUEUES = env.list("METRICS_CELERY_QUEUES", default=["inference", "default", "exports"])
# A Celery worker serves its processes' counters here (0: off); the entrypoint turns it on.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
# Loopback by default: the counters name customers. docker-compose.yml sets 0.0.0.0 (its own network).
WORKER_METRICS_ADDR = env.str("WORKER_METRICS_ADDR", default="127.0.0.1")
# One JSON object per line in production; readable lines when developing.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ValueError("LOG_FORMAT must be json or plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "reviewapp.core.logs.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s%(context)s"},
        "json": {"()": "reviewapp.core.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
# Celery's worker keeps Django's logging (and so the JSON lines and the clip context).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Night: infrared footage is nearly grey. Mean HSV saturation (0-255) below this is "night".
NIGHT_MAX_SATURATION = env.float("NIGHT_MAX_SATURATION", default=12.0)
# The error-analysis page opens on the last ANALYSIS_DEFAULT_DAYS (0: all time).
ANALYSIS_DEFAULT_DAYS = env.int("ANALYSIS_DEFAULT_DAYS", default=30)
# Drift (reviewapp.drift): each camera's last DRIFT_WINDOW_HOURS against the DRIFT_BASELINE_DAYS before.
DRIFT_WINDOW_HOURS = env.int("DRIFT_WINDOW_HOURS", default=24)
DRIFT_BASELINE_DAYS = env.int("DRIFT_BASELINE_DAYS", default=14)
DRIFT_MIN_CLIPS = env.int("DRIFT_MIN_CLIPS", default=50)
DRIFT_PSI_THRESHOLD = env.float("DRIFT_PSI_THRESHOLD", default=0.25)
DRIFT_AUDIT_SAMPLE = env.int("DRIFT_AUDIT_SAMPLE", default=20)
DRIFT_CHECK_SECONDS = env.int("DRIFT_CHECK_SECONDS", default=3600)
# Retention: a clip's detail (CLIP_DETAIL_RETENTION_DAYS) and the unremarkable clips (CLIP_RETENTION_DAYS).
from reviewapp.project.retention_settings import *  # noqa: E402, F403

CELERY_BEAT_SCHEDULE.update(RETENTION_BEAT_SCHEDULE)  # noqa: F405 -- expire-clip-details, prune-clips
CELERY_BEAT_SCHEDULE["check-drift"] = {
    "task": "reviewapp.tasks.check_drift",
    "schedule": float(DRIFT_CHECK_SECONDS),
    "options": {"expires": DRIFT_CHECK_SECONDS},
}

# --- detector training (#15: inference/training, labeling/training) -------------------------
from reviewapp.project.second_look_settings import *  # noqa: E402, F403 -- SECOND_LOOK, SECOND_LOOK_FRAMES
from reviewapp.project.training_settings import *  # noqa: E402, F403 -- DETECTOR_TRAINING_*, the alias refresh

# The models:/ plugin is plain inference code (no Django): it reads these two from the environment.
_os.environ.setdefault("DETECTOR_ALIAS_REFRESH_SECONDS", str(DETECTOR_ALIAS_REFRESH_SECONDS))  # noqa: F405
_os.environ.setdefault("MLFLOW_TRACKING_URI", MLFLOW_TRACKING_URI)
CELERY_TASK_ROUTES["labeling.tasks.train_detector"] = {"queue": "exports"}  # hours long, as exports
if DETECTOR_TRAINING_SCHEDULE:  # noqa: F405 -- the weekly job (Tuesdays 04:00, after Monday's export)
    CELERY_BEAT_SCHEDULE["detector-weekly-training"] = {
        "task": "labeling.tasks.train_detector",
        "schedule": crontab(minute=0, hour=4, day_of_week="tue"),
    }
