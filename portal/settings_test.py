"""Settings for the test suite: production settings (DEBUG=false) with
test-only keys.

Production refuses to start without an explicit SECRET_KEY and
CLUSTER_CREDENTIAL_KEYS; pytest-django imports the settings before any
conftest runs, so the test-only values are supplied here (pytest.ini points
at this module). They go into the environment, so the Celery worker and
``manage.py`` processes the tests start inherit them. The live server speaks
plain HTTP, so the production HTTPS redirect is off.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-4f9a1c7e2b8d6053")
os.environ.setdefault("CLUSTER_CREDENTIAL_KEYS", "dGVzdC1vbmx5LWNsdXN0ZXItY3JlZGVudGlhbC1rZXk=")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# Plain-text logs for the suite (tests read worker logs line by line); the JSON
# format is tested where it matters (tests/ops, with LOG_FORMAT=json).
os.environ.setdefault("LOG_FORMAT", "plain")
# ...and the workers' per-task lines, which tests wait on ("succeeded in").
os.environ.setdefault("CELERY_TASK_LOG_LEVEL", "INFO")
# Production mails over SMTP; the suite (and the workers it starts) keeps mail in memory.
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")

from portal.settings import *  # noqa: F403  (the production settings, unchanged)
