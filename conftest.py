"""Test-run defaults, applied before Django reads its settings.

The suite runs against PostgreSQL and Redis, never SQLite or an in-process
broker; `make test` exports the same values, and developers running pytest
directly get them too.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
