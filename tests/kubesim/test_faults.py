"""Fault rules and the request log."""

from __future__ import annotations

import time

import pytest

from kubesim import errors
from kubesim.faults import FaultInjector, RequestLog


def test_fail_next_fails_exactly_n_matching_requests():
    fi = FaultInjector()
    fi.fail_next(2, status=500, verbs=("create",), resources=("namespaces",))
    assert fi.before("get", "namespaces", "/api/v1/namespaces/x") is None
    for _ in range(2):
        with pytest.raises(errors.StatusError) as exc:
            fi.before("create", "namespaces", "/api/v1/namespaces")
        assert exc.value.code == 500 and exc.value.reason == "InternalError"
    assert fi.before("create", "namespaces", "/api/v1/namespaces") is None
    assert fi.describe() == []


def test_429_carries_retry_after():
    fi = FaultInjector()
    fi.error_rate(1.0, status=429, retry_after=7)
    with pytest.raises(errors.StatusError) as exc:
        fi.before("list", "pods", "/api/v1/pods")
    assert exc.value.code == 429 and exc.value.headers["Retry-After"] == "7"
    assert exc.value.details == {"retryAfterSeconds": 7}


def test_error_rate_is_a_probability():
    fi = FaultInjector(seed=1)
    fi.error_rate(0.5, status=503)
    failures = 0
    for _ in range(400):
        try:
            fi.before("get", "pods", "/api/v1/pods/x")
        except errors.StatusError:
            failures += 1
    assert 140 < failures < 260


def test_write_alias_and_drop():
    fi = FaultInjector()
    fi.fail_next(1, verbs=("write",), drop=True)
    assert fi.before("get", "pods", "/p") is None
    assert fi.before("patch", "pods", "/p") == "drop"


def test_latency_adds_up_and_admin_path_is_exempt():
    fi = FaultInjector()
    fi.latency(0.05)
    fi.fail_next(5)
    start = time.monotonic()
    assert fi.before("get", "", "/kubesim/faults") is None
    assert time.monotonic() - start < 0.05
    with pytest.raises(errors.StatusError):
        fi.before("get", "pods", "/api/v1/pods")
    assert time.monotonic() - start >= 0.05


def test_invalid_rules_are_rejected():
    fi = FaultInjector()
    with pytest.raises(ValueError):
        fi.add_rule(status=418)
    with pytest.raises(ValueError):
        fi.add_rule(error_rate=2)


def test_request_log_counts_writes():
    log = RequestLog()
    log.record(user="u", verb="get", method="GET", path="/a", status=200, resource="pods")
    log.record(user="u", verb="create", method="POST", path="/a", status=201, resource="pods")
    log.record(user="u", verb="patch", method="PATCH", path="/b", status=200, resource="configmaps")
    assert [e.verb for e in log.writes()] == ["create", "patch"]
    assert len(log.writes("pods")) == 1
    log.clear()
    assert log.entries() == []


def test_stopping_cuts_an_injected_latency_short_and_drops_the_request():
    import threading

    fi = FaultInjector()
    fi.latency(5)
    stopping = threading.Event()
    threading.Timer(0.05, stopping.set).start()
    start = time.monotonic()
    assert fi.before("get", "pods", "/api/v1/pods", stopping=stopping) == "drop"
    assert time.monotonic() - start < 2


def test_stop_does_not_wait_out_a_slow_request(kubesim, monkeypatch):
    """stop() returns promptly while a request sleeps in injected latency; the client sees the server go away."""
    import threading

    from kubernetes import client as k8s

    from tests.kubesim.conftest import api_client_for

    kubesim.faults.latency(10)
    in_latency = threading.Event()
    before = kubesim.faults.before

    def spy(*args, **kwargs):
        in_latency.set()
        return before(*args, **kwargs)

    monkeypatch.setattr(kubesim.faults, "before", spy)
    outcome: dict = {}

    def call():
        with api_client_for(kubesim.admin_kubeconfig) as api:
            try:
                k8s.CoreV1Api(api).list_namespace(_request_timeout=30)
                outcome["result"] = "answered"
            except Exception as exc:  # the connection is cut: urllib3 raises its own errors
                outcome["result"] = type(exc).__name__

    thread = threading.Thread(target=call)
    thread.start()
    assert in_latency.wait(10), "the request never reached the server"
    start = time.monotonic()
    kubesim.stop()
    assert time.monotonic() - start < 2
    thread.join(timeout=15)
    assert outcome["result"] != "answered"
