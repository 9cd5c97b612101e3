"""kubectl-portal's pure parts: parsing, the portal's error messages, merging kubeconfigs."""

from __future__ import annotations

import argparse
import json

import pytest
from kubectl_portal import api_message, merge_kubeconfig, parse_hours, parse_quota


def test_durations_and_quotas():
    assert parse_hours("72h", "--ttl") == 72 and parse_hours("3d", "--ttl") == 72 and parse_hours("5", "--ttl") == 5
    for bad in ("", "0h", "soon", "3w", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_hours(bad, "--ttl")
    assert parse_quota("requests.cpu=1, limits.memory=2Gi") == {"requests.cpu": "1", "limits.memory": "2Gi"}
    with pytest.raises(argparse.ArgumentTypeError):
        parse_quota("requests.cpu")


def test_the_portals_messages_are_shown_as_given():
    assert api_message(409, json.dumps({"detail": "this request is already rejected"}).encode()) == "this request is already rejected"
    assert api_message(400, json.dumps({"name": ["must be a DNS-1123 label"], "non_field_errors": ["x"]}).encode()) == \
        "name: must be a DNS-1123 label; x"
    assert api_message(502, b"<html>bad gateway</html>").startswith("HTTP 502")


def test_merging_keeps_other_contexts_and_replaces_same_names():
    existing = {"apiVersion": "v1", "kind": "Config", "current-context": "old",
                "clusters": [{"name": "old", "cluster": {}}, {"name": "sim", "cluster": {"server": "stale"}}],
                "users": [{"name": "old", "user": {}}], "contexts": [{"name": "old", "context": {}}]}
    new = {"current-context": "sim-payments", "clusters": [{"name": "sim", "cluster": {"server": "https://new"}}],
           "users": [{"name": "alice@sim", "user": {}}], "contexts": [{"name": "sim-payments", "context": {}}]}
    merged = merge_kubeconfig(existing, new)
    assert [c["name"] for c in merged["clusters"]] == ["old", "sim"] and merged["clusters"][1]["cluster"]["server"] == "https://new"
    assert [c["name"] for c in merged["contexts"]] == ["old", "sim-payments"] and merged["current-context"] == "sim-payments"
    assert merge_kubeconfig({}, new)["kind"] == "Config"
