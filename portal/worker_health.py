"""Liveness of the Celery worker and beat, for an exec probe: ``python -m portal.worker_health [--beat]``.

The worker touches ``WORKER_HEARTBEAT_FILE`` every 30 s from its own event
loop (``portal.celery.Heartbeat``); beat rewrites its schedule file
(``--schedule``) as it runs. The probe exits 0 when the file is fresh, 1
(saying why) when it is stale or missing: a hung process gets restarted.
It imports neither Django nor Celery, so it is cheap to run every few seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

DEFAULT_HEARTBEAT = "/tmp/worker-heartbeat"
DEFAULT_SCHEDULE = "/tmp/celerybeat-schedule"


def age_seconds(path: str) -> float | None:
    """Seconds since ``path`` was written; beat's shelve may add a suffix (.db, .dat, .dir), the freshest counts."""
    mtimes = []
    for candidate in (path, f"{path}.db", f"{path}.dat", f"{path}.dir"):
        try:
            mtimes.append(os.stat(candidate).st_mtime)
        except FileNotFoundError:
            continue
    return time.time() - max(mtimes) if mtimes else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beat", action="store_true", help="check celery beat's schedule file instead of the worker's heartbeat")
    parser.add_argument("--max-age", type=float, default=None, help="seconds (default 120 for the worker, 600 for beat)")
    args = parser.parse_args(argv)
    if args.beat:
        path, max_age = os.environ.get("BEAT_SCHEDULE_FILE", DEFAULT_SCHEDULE), args.max_age or 600
    else:
        path, max_age = os.environ.get("WORKER_HEARTBEAT_FILE", DEFAULT_HEARTBEAT), args.max_age or 120
    age = age_seconds(path)
    if age is None:
        print(f"unhealthy: {path} does not exist (not started yet, or not writing it)")
        return 1
    if age > max_age:
        print(f"unhealthy: {path} is {age:.0f} s old (more than {max_age:.0f} s): the process stopped running its loop")
        return 1
    print(f"ok: {path} is {age:.0f} s old")
    return 0


if __name__ == "__main__":
    sys.exit(main())
