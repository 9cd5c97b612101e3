"""Settings for the platform portal, read from environment variables.

Every value has an embedded default so ``make run`` works with nothing
configured; production sets the variables documented in README.md.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from portal.envconfig import env, env_bool, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
# Production (DEBUG=false) refuses to start on a guessable secret: the demo
# defaults below exist only so `make run` (DEBUG=true) needs nothing.
_GENERATE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
_missing = [name for name in ("SECRET_KEY", "CLUSTER_CREDENTIAL_KEYS") if not DEBUG and not (env(name) or "").strip()]
if _missing:
    raise ImproperlyConfigured(
        f"{' and '.join(_missing)} must be set explicitly when DEBUG=false (or set DEBUG=true for a local demo). "
        f"Generate a key with: {_GENERATE_KEY}"
    )
# The default key is only fit for a laptop demo; `manage.py check --deploy`
# flags it because of the "django-insecure-" prefix.
SECRET_KEY = env("SECRET_KEY", "django-insecure-portal-demo-key-change-me-0123456789abcdef")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "apps.core",
    "apps.accounts",
    "apps.audit",
    "apps.teams",
    "apps.clusters",
    "apps.namespaces",
    "apps.approvals",
    "apps.onboarding",
    "apps.quotas",
    "apps.violations",
    "apps.notifications",
    "apps.usage",
]

MIDDLEWARE = [
    # First: probes get their answer before the host check and the HTTPS redirect (apps.core.health).
    "apps.core.health.HealthCheckMiddleware",
    "portal.metrics.HttpMetricsMiddleware",
    # Early, so every log line of the request carries its id.
    "apps.core.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Before anything reads the request: NUL bytes, oversized and too deep bodies get a clear 4xx.
    "apps.core.middleware.BadInputMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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
                "django.template.context_processors.csp",
                "apps.core.context_processors.portal",
                "apps.notifications.context_processors.inbox",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "namespaces:dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Sign-in lockout (django-axes) and API tokens ----------------------------------
# Axes' backend must come first: it refuses a locked-out sign-in before the
# password is even checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend",
                           "apps.accounts.oidc.PortalOIDCBackend"]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
# 0 = locked until a platform admin unlocks (manage.py unlock_login or the Lockouts page).
_AXES_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 15)
AXES_COOLOFF_TIME = timedelta(minutes=_AXES_COOLOFF_MINUTES) if _AXES_COOLOFF_MINUTES > 0 else None
# Username and address together: a guesser is stopped, but cannot lock a
# colleague out from another machine by typing their name wrong five times.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# The audit log records sign-ins; axes' own access log would be a second copy.
AXES_DISABLE_ACCESS_LOG = True
# Unlocking goes through the audited Lockouts page / unlock_login command,
# not through deleting axes' rows in the Django admin.
AXES_ENABLE_ADMIN = False
# API tokens: lifetime when none is asked for, and the longest allowed.
API_TOKEN_DEFAULT_DAYS = env_int("API_TOKEN_DEFAULT_DAYS", 90)
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365)
# Unknown tokens sent from one client address before it is refused with 429,
# and for how long.
API_TOKEN_FAILURE_LIMIT = env_int("API_TOKEN_FAILURE_LIMIT", 10)
API_TOKEN_FAILURE_COOLOFF_SECONDS = env_int("API_TOKEN_FAILURE_COOLOFF_SECONDS", 300)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production images run `collectstatic` into STATIC_ROOT (deploy/Dockerfile);
# without it, WhiteNoise serves straight from the finders (demo and tests).
STATIC_ROOT = env("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = STATIC_ROOT is None

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# HTTPS: secure by default in production, relaxed for the plain-HTTP demo.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
# Behind a TLS-terminating proxy: the header (as Django sees it in META, e.g.
# HTTP_X_FORWARDED_PROTO) whose value "https" marks a secure request. Only set
# it when the proxy always overwrites that header.
_proxy_ssl_header = env("SECURE_PROXY_SSL_HEADER", "") or ""
if _proxy_ssl_header.strip():
    if not _proxy_ssl_header.strip().startswith("HTTP_"):
        raise ImproperlyConfigured(f"SECURE_PROXY_SSL_HEADER={_proxy_ssl_header!r} must be a META name such as HTTP_X_FORWARDED_PROTO")
    SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header.strip(), "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
# Content Security Policy (Django's own middleware): everything from the
# portal's origin, no inline script or style; the few inline blocks of
# third-party pages (Swagger UI) carry the per-request nonce.
# Logging out of the portal also ends the IdP session: the logout form's redirect goes to the issuer.
_oidc_origin = [env("OIDC_ISSUER").rstrip("/")] if env("OIDC_ISSUER") else []
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF, *_oidc_origin],
    "frame-ancestors": [CSP.NONE],
}
# CSP_REPORT_ONLY=true sends the same policy as report-only (to try it out
# on an existing deployment before enforcing it).
if env_bool("CSP_REPORT_ONLY", False):
    SECURE_CSP_REPORT_ONLY, SECURE_CSP = SECURE_CSP, {}

# --- Celery -----------------------------------------------------------------
# With no broker configured, tasks run in-process (the demo); with REDIS_URL
# or CELERY_BROKER_URL set, a real worker is required.
CELERY_BROKER_URL = env("CELERY_BROKER_URL") or env("REDIS_URL") or ""
# Counters shared by every process (failed API-token attempts) need Redis
# when there is one; a single-process demo makes do with local memory.
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CELERY_BROKER_URL,
                          "KEY_PREFIX": "portal-cache"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    CELERY_BROKER_URL = "memory://"  # never contacted; keeps kombu from guessing a host
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A worker killed mid-task must not lose the task: acknowledge after it ran
# and requeue when the worker process dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# How long an unacknowledged task (its worker died: acks_late) waits before
# Redis hands it to another worker. Tests lower it to show the redelivery.
# It must exceed the longest retry countdown (RECONCILE_MAX_BACKOFF_SECONDS): a
# waiting retry is an unacknowledged message too. Whatever a killed worker held
# comes back after it; rows are re-driven sooner by the resync once their claim
# (held for the retry) has expired.
# queue_order_strategy "priority": a worker takes from its queues in the order
# given (-Q interactive,background), so interactive work goes first.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 600),
                                   "queue_order_strategy": "priority"}
# Two queues by urgency. Interactive (the default): what someone waits for (an
# approval's apply, membership changes, kubeconfigs, deletes, notifications).
# Background: the periodic passes over the fleet (resync, usage and violation
# sync, reaping, health, audit sealing) and retries further away than a
# minute. Workers consume both, interactive first:
#   celery -A portal worker -Q portal,portal-background
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "portal")
CELERY_BACKGROUND_QUEUE = env("CELERY_BACKGROUND_QUEUE", f"{CELERY_TASK_DEFAULT_QUEUE}-background")
# Quota usage history: how often it is recorded (skipped for a cluster whose drift pass just recorded it).
USAGE_SYNC_INTERVAL_SECONDS = env_int("USAGE_SYNC_INTERVAL_SECONDS", 300)
CELERY_BEAT_SCHEDULE = {
    "resync-namespaces": {"task": "apps.namespaces.tasks.resync", "schedule": timedelta(seconds=env_int("RESYNC_INTERVAL_SECONDS", 60)), "options": {"queue": CELERY_BACKGROUND_QUEUE}},
    # Interactive queue: one cheap call per cluster, and how an outage's end is noticed (re-drive).
    "check-cluster-health": {"task": "apps.clusters.tasks.check_all_health", "schedule": timedelta(seconds=env_int("HEALTH_INTERVAL_SECONDS", 60))},
    # The book recommends an hourly reaper; expiry is coarse (hours), and
    # each run only flips rows to Terminating, the deletes run as tasks.
    "sync-usage": {"task": "apps.usage.tasks.sync_all", "schedule": timedelta(seconds=USAGE_SYNC_INTERVAL_SECONDS), "options": {"queue": CELERY_BACKGROUND_QUEUE}},
    "prune-usage": {"task": "apps.usage.tasks.rollup_and_prune", "schedule": timedelta(seconds=3600), "options": {"queue": CELERY_BACKGROUND_QUEUE}},
    "seal-audit": {"task": "apps.audit.tasks.seal", "schedule": timedelta(seconds=env_int("AUDIT_SEAL_INTERVAL_SECONDS", 60)), "options": {"queue": CELERY_BACKGROUND_QUEUE}},
    "sync-violations": {"task": "apps.violations.tasks.sync_all", "schedule": timedelta(seconds=env_int("VIOLATIONS_INTERVAL_SECONDS", 300)), "options": {"queue": CELERY_BACKGROUND_QUEUE}},
    "reap-expired-namespaces": {"task": "apps.namespaces.tasks.reap_expired", "schedule": timedelta(seconds=env_int("REAPER_INTERVAL_SECONDS", 3600)), "options": {"queue": CELERY_BACKGROUND_QUEUE}},
    # Namespace (72 h, 24 h) and kubeconfig certificate expiry warnings; each is sent once.
    "warn-expiring": {"task": "apps.notifications.tasks.warn_expiring", "schedule": timedelta(seconds=env_int("EXPIRY_WARNING_INTERVAL_SECONDS", 900)), "options": {"queue": CELERY_BACKGROUND_QUEUE}},
}

# --- Kubernetes -----------------------------------------------------------------
# Fernet keys (comma-separated, first one encrypts) for cluster credentials at
# rest. Required in production (checked at the top); only the demo
# (DEBUG=true) derives a default from SECRET_KEY so it needs nothing.
_derived_key = base64.urlsafe_b64encode(hashlib.sha256(f"cluster-credentials:{SECRET_KEY}".encode()).digest()).decode()
CLUSTER_CREDENTIAL_KEYS = env_list("CLUSTER_CREDENTIAL_KEYS", [_derived_key])
KUBE_REQUEST_TIMEOUT_SECONDS = env_int("KUBE_REQUEST_TIMEOUT_SECONDS", 10)
# Field manager used for every server-side apply the portal makes.
KUBE_FIELD_MANAGER = "platform-portal"
# Prefix of every label/annotation key the portal owns.
PORTAL_LABEL_DOMAIN = env("PORTAL_LABEL_DOMAIN", "portal.platform.io")
# A developer's identity on clusters: the CN of their client certificate and
# the subject of their RoleBindings.
CLUSTER_USER_PREFIX = env("CLUSTER_USER_PREFIX", "portal:")
RECONCILE_MAX_BACKOFF_SECONDS = env_int("RECONCILE_MAX_BACKOFF_SECONDS", 300)
# How often the resync reads a Ready namespace back to find drift (hand edits).
RECONCILE_DRIFT_CHECK_SECONDS = env_int("RECONCILE_DRIFT_CHECK_SECONDS", 300)


def _own_namespace() -> str:
    """The namespace the portal runs in: its ServiceAccount's, when it runs in a pod."""
    try:
        return Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read_text().strip()
    except OSError:
        return ""


# The namespace holding the portal's own ServiceAccount on the clusters it
# manages (deploy/kubernetes/cluster-rbac/portal-rbac.yaml). Each cluster's is also
# detected from the credentials it was registered with (SelfSubjectReview).
PORTAL_NAMESPACE = env("PORTAL_NAMESPACE", "") or _own_namespace() or "platform-portal"
# Namespace names never handed to a team, on any cluster (shell-style
# patterns): the cluster's own, the portal's, and whatever the platform adds.
RESERVED_NAMESPACES = ["default", "kube-*", "openshift-*", PORTAL_NAMESPACE, *env_list("RESERVED_NAMESPACES", [])]

# Kubeconfig certificates (issue 4): default lifetime and the admin-set cap.
KUBECONFIG_CERT_SECONDS = env_int("KUBECONFIG_CERT_SECONDS", 24 * 3600)
KUBECONFIG_CERT_MAX_SECONDS = env_int("KUBECONFIG_CERT_MAX_SECONDS", 7 * 24 * 3600)
KUBECONFIG_CSR_TIMEOUT_SECONDS = env_int("KUBECONFIG_CSR_TIMEOUT_SECONDS", 15)
# Organisations (groups) a pasted CSR may carry; none by default, and
# system:masters is refused whatever this says.
KUBECONFIG_ALLOWED_GROUPS = tuple(env_list("KUBECONFIG_ALLOWED_GROUPS", []))

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.StrictLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "apps.core.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Platform portal API",
    "DESCRIPTION": "Self-service namespaces, memberships and kubeconfigs for Kubernetes platform teams.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "apps.core.api.schema.document_common_errors"],
    # Swagger UI assets come from our own static files (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One schema component per choice set that several fields share (e.g. a
    # namespace's pod_security_level and a cluster's default_pod_security).
    "ENUM_NAME_OVERRIDES": {
        "PodSecurityLevelEnum": "apps.clusters.models.PodSecurityLevel",
        # A team role: teams list, members list and the member add/role bodies.
        "MembershipRoleEnum": "apps.teams.models.Membership.Role",
        "RequestKindEnum": "apps.approvals.models.Request.Kind",
        "ApprovalRuleKindEnum": "apps.quotas.models.ApprovalRule.Kind",
        "NotificationKindEnum": "apps.notifications.models.Kind",
    },
}

# One JSON object per line in production (LOG_FORMAT=json, the default when
# DEBUG=false), plain text in `make run`. Every record carries the request id
# (apps.core.logging), and secrets are redacted before any handler writes.
LOG_FORMAT = env("LOG_FORMAT", "plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "apps.core.logging.RequestContextFilter"},
                "redact": {"()": "apps.core.logging.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(via)s",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context", "redact"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"kubernetes": {"level": "WARNING"}, "urllib3": {"level": "WARNING"},
                # Celery's "received"/"succeeded" line per task: two lines per no-op drift check at fleet
                # scale. The portal logs what changed or failed itself (apps.namespaces.tasks).
                "celery.app.trace": {"level": env("CELERY_TASK_LOG_LEVEL", "WARNING")},
                "celery.worker.strategy": {"level": env("CELERY_TASK_LOG_LEVEL", "WARNING")}},
}
# The worker logs through the same configuration (JSON, request ids) instead of Celery's own,
# and Python's warnings become log records too (one format for everything a process writes).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
logging.captureWarnings(True)

# --- Namespace defaults -----------------------------------------------------------
# Quota used when a request names none (the book's small-team tier).
DEFAULT_NAMESPACE_QUOTA = {
    "requests.cpu": "2",
    "limits.cpu": "4",
    "requests.memory": "4Gi",
    "limits.memory": "8Gi",
    "pods": "50",
}
# Quota usage history: raw samples (one per namespace per sync) for this many
# hours, then hourly max/mean roll-ups for this many days.
USAGE_RAW_RETENTION_HOURS = env_int("USAGE_RAW_RETENTION_HOURS", 48)
USAGE_HOURLY_RETENTION_DAYS = env_int("USAGE_HOURLY_RETENTION_DAYS", 35)
# Longest lifetime a namespace request may ask for (hours).
NAMESPACE_MAX_TTL_HOURS = env_int("NAMESPACE_MAX_TTL_HOURS", 24 * 90)
# How long after its expiry time the reaper waits before deleting a
# namespace: time to notice the last warning and ask for an extension.
NAMESPACE_EXPIRY_GRACE_HOURS = env_int("NAMESPACE_EXPIRY_GRACE_HOURS", 1)

# --- Notifications and email ------------------------------------------------------
# Where people reach the portal: links in emails are made absolute with it.
PORTAL_URL = env("PORTAL_URL", "http://localhost:8000")
# Django's mailer (MAILERS, Django 6.1): SMTP (EMAIL_HOST...) in production;
# the demo (DEBUG=true) prints mail to the console unless EMAIL_HOST is set.
# EMAIL_BACKEND names another backend (e.g. the file backend).
_mail_backend = env("EMAIL_BACKEND", "") or (
    "django.core.mail.backends.console.EmailBackend" if DEBUG and not env("EMAIL_HOST")
    else "django.core.mail.backends.smtp.EmailBackend")
_mail_options: dict = {}
if _mail_backend.endswith("smtp.EmailBackend"):
    _mail_options = {"host": env("EMAIL_HOST", "localhost"), "port": env_int("EMAIL_PORT", 25),
                     "username": env("EMAIL_HOST_USER", ""), "password": env("EMAIL_HOST_PASSWORD", ""),
                     "use_tls": env_bool("EMAIL_USE_TLS", False), "use_ssl": env_bool("EMAIL_USE_SSL", False),
                     "timeout": env_int("EMAIL_TIMEOUT_SECONDS", 10)}
elif _mail_backend.endswith("filebased.EmailBackend"):
    _mail_options = {"file_path": env("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))}
MAILERS = {"default": {"BACKEND": _mail_backend, "OPTIONS": _mail_options}}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Platform portal <portal@localhost>")

# --- Operations: health, metrics ---------------------------------------------------
# /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>"; unset: off (404).
METRICS_TOKEN = env("METRICS_TOKEN", "")

# --- Single sign-on (OpenID Connect, apps.accounts.oidc) -----------------------------
# OIDC_ISSUER turns it on; endpoints come from the issuer's discovery document.
OIDC_ISSUER = env("OIDC_ISSUER", "")
OIDC_PROVIDER_NAME = env("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_RP_CLIENT_ID = env("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env("OIDC_RP_CLIENT_SECRET", "")
OIDC_RP_SCOPES = env("OIDC_RP_SCOPES", "openid email profile groups")
OIDC_RP_SIGN_ALGO = env("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_USE_PKCE = True
OIDC_STORE_ID_TOKEN = True  # for RP-initiated logout (id_token_hint); kept in the server-side session
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_SECONDS", 10)
OIDC_VERIFY_SSL = env_bool("OIDC_VERIFY_SSL", True)
OIDC_DISCOVERY_CACHE_SECONDS = env_int("OIDC_DISCOVERY_CACHE_SECONDS", 3600)
OIDC_USERNAME_CLAIM = env("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = env("OIDC_GROUPS_CLAIM", "groups")
# Groups giving a platform role; with neither set, roles stay as set in the portal.
OIDC_ADMIN_GROUPS = env_list("OIDC_ADMIN_GROUPS", [])
OIDC_AUDITOR_GROUPS = env_list("OIDC_AUDITOR_GROUPS", [])
# A regular expression with named groups "team" (a team slug) and optionally "role"
# (member, manager or viewer), e.g. team-(?P<team>[a-z0-9-]+)-(?P<role>member|manager|viewer)
OIDC_TEAM_GROUP_PATTERN = env("OIDC_TEAM_GROUP_PATTERN", "")
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
LOGIN_REDIRECT_URL_FAILURE = "/login/?sso=failed"
LOGOUT_REDIRECT_URL_PATH = "/login/"
# Local username/password sign-in (break-glass, the demo); false hides and refuses it.
LOCAL_LOGIN_ENABLED = env_bool("LOCAL_LOGIN_ENABLED", True)
