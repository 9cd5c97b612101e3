"""The fault soak, small: 20 namespaces through the REST API with idempotent replays, ~30 % injected write
faults on kubesim, one worker SIGKILL, then convergence, all checked on the cluster (``make soak`` runs 200
with two SIGKILLs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_the_small_soak_loses_duplicates_and_misses_nothing(settings):
    env = dict(os.environ, SOAK_NAMESPACES="20", SOAK_KILLS="1", CELERY_BROKER_URL=settings.CELERY_BROKER_URL)
    result = subprocess.run([sys.executable, "deploy/dev/soak.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    summary = [line for line in result.stdout.splitlines() if line.startswith("soak:")]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "soak: accepted 20, Ready 20, lost 0, duplicates 0, missing objects 0" in summary
    print("\n".join(summary))
