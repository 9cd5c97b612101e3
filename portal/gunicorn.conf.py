"""gunicorn settings for the web container: ``gunicorn -c portal/gunicorn.conf.py portal.wsgi:application``.

Logs go through the portal's own logging configuration (``LOGGING`` in
portal/settings.py: one JSON object per line in production, request ids,
secrets redacted), gunicorn's error and access logs included.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Writable paths are volumes (read-only root file system): the worker heartbeat files go to /tmp.
worker_tmp_dir = os.environ.get("GUNICORN_TMP_DIR", "/tmp")
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
# Leave logging to Django's LOGGING (applied when the app loads): gunicorn's own
# loggers propagate to its root handler instead of gunicorn's plain-text handlers.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {
        "gunicorn.error": {"level": "INFO", "propagate": True, "handlers": []},
        "gunicorn.access": {"level": "INFO", "propagate": True, "handlers": []},
    },
}
# Load the app in the master: Django's LOGGING is configured before the workers start.
preload_app = True


def child_exit(server, worker):
    """Prometheus multiprocess mode: forget the series of a gunicorn worker that exited."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
