"""Celery application: Redis broker, tasks discovered from each app's tasks.py.

Besides the app, three things every worker needs:

- the web request's id travels with the tasks it enqueues (a message header,
  ``portal_request_id``), so the worker's logs and audit events carry the id
  of the request that caused them (``apps.core.context.task_request_id``);
- a heartbeat file touched every 30 s from the worker's own loop, for the
  liveness probe (``python -m portal.worker_health``);
- with ``WORKER_METRICS_PORT`` set, the worker serves its Prometheus series
  (summed over its pool processes through ``PROMETHEUS_MULTIPROC_DIR``).
"""

import os
from pathlib import Path

from celery import Celery, bootsteps
from celery.signals import before_task_publish, task_postrun, task_prerun, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_SECONDS = 30.0


@before_task_publish.connect
def _carry_request_id(headers=None, **kwargs):
    from apps.core.context import current_request_id

    request_id = current_request_id()
    if headers is not None and request_id and "portal_request_id" not in headers:
        headers["portal_request_id"] = request_id


_task_context: dict[str, object] = {}


@task_prerun.connect
def _enter_request_context(task_id=None, task=None, **kwargs):
    """Every log line a task writes carries the request id it works for (see the module docstring)."""
    from apps.core.context import acting_via, task_request_id

    context = acting_via("worker", task_request_id(task))
    context.__enter__()
    _task_context[task_id] = context


@task_postrun.connect
def _leave_request_context(task_id=None, **kwargs):
    context = _task_context.pop(task_id, None)
    if context is not None:
        context.__exit__(None, None, None)


class Heartbeat(bootsteps.StartStopStep):
    """Touch ``WORKER_HEARTBEAT_FILE`` every 30 s from the worker's timer (its event loop)."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.path = Path(os.environ.get("WORKER_HEARTBEAT_FILE", "/tmp/worker-heartbeat"))
        self.tref = None

    def start(self, worker):
        self.beat()
        self.tref = worker.timer.call_repeatedly(HEARTBEAT_SECONDS, self.beat, priority=10)

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
        self.path.unlink(missing_ok=True)

    def beat(self):
        self.path.touch()


app.steps["worker"].add(Heartbeat)


@worker_ready.connect
def _serve_worker_metrics(**kwargs):
    port = os.environ.get("WORKER_METRICS_PORT")
    if not port:
        return
    from prometheus_client import start_http_server

    from portal.metrics import metrics_registry

    start_http_server(int(port), registry=metrics_registry())
