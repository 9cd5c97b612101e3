"""``kubectl portal``: the real ``kubectl`` binary finds the plugin on the PATH (plugin discovery is part
of what is tested) and drives a live portal (Django's live server) with kubesim and a real Celery worker.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.apps import apps
from django.utils import timezone

from apps.accounts.services import api_token_issue
from apps.approvals.models import Request
from apps.namespaces.models import Namespace
from apps.quotas.models import ApprovalRule
from tests.pages import make_cluster, make_namespace

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
QUOTA = "requests.cpu=1,limits.cpu=2,requests.memory=1Gi,limits.memory=2Gi"


@pytest.fixture
def cli(tmp_path, kubectl_binary, live_server):
    """``cli(user)`` -> a function running ``kubectl portal ...`` as ``user`` (logged in), with its own kubeconfig."""

    def for_user(user, login: bool = True):
        home = tmp_path / user.username
        home.mkdir(exist_ok=True)
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", HOME=str(home),
                   KUBECTL_PORTAL_CONFIG=str(home / "portal.json"), KUBECONFIG=str(home / "kube" / "config"))

        def run(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
            return subprocess.run([kubectl_binary, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)

        def portal(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
            return run("portal", *args, stdin=stdin)

        portal.kubectl, portal.env, portal.home = run, env, home
        if login:
            token = api_token_issue(actor=None, user=user, name="cli")[1]
            result = portal("login", "--url", live_server.url, "--token-stdin", stdin=token + "\n")
            assert result.returncode == 0, result.stderr
        return portal

    return for_user


def test_kubectl_finds_the_plugin(kubectl_binary):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    listed = subprocess.run([kubectl_binary, "plugin", "list"], capture_output=True, text=True, env=env)
    assert str(BIN / "kubectl-portal") in listed.stdout


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_request_wait_kubeconfig_merge_and_access(cli, kubesim_cluster, celery_worker, member, manager, team):
    ApprovalRule.objects.create(name="dev namespaces", kind=ApprovalRule.Kind.NAMESPACE)
    alice = cli(member)
    config = Path(alice.env["KUBECTL_PORTAL_CONFIG"])
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    whoami = alice("whoami", "-o", "json")
    assert whoami.returncode == 0 and json.loads(whoami.stdout)["username"] == member.username

    done = alice("request", "namespace", "payments-cli", "--team", "payments", "--cluster", "sim", "--quota", QUOTA,
                 "--ttl", "72h", "--purpose", "cli test", "--wait")
    assert done.returncode == 0, done.stderr
    assert "namespace payments-cli: Ready" in done.stdout and "rule dev namespaces" in done.stdout
    namespace = Namespace.objects.get(name="payments-cli")
    assert namespace.phase == Namespace.Phase.READY and namespace.expires_at is not None
    listed = json.loads(alice("namespaces", "-o", "json").stdout)
    assert [(n["name"], n["phase"]) for n in listed] == [("payments-cli", "Ready")]
    table = alice("namespaces").stdout
    assert "payments-cli" in table and "in 2d23h" in table or "in 3d0h" in table

    merged = alice("kubeconfig", "payments-cli", "--merge", "--lifetime", "2h")
    assert merged.returncode == 0, merged.stderr
    kubeconfig = Path(alice.env["KUBECONFIG"])
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in merged.stdout + merged.stderr  # never printed
    pods = alice.kubectl("get", "pods", "-n", "payments-cli")
    assert pods.returncode == 0, pods.stderr
    forbidden = alice.kubectl("get", "pods", "-n", "kube-system")
    assert forbidden.returncode == 1 and "Forbidden" in forbidden.stderr

    # The private key exists only in the user's kubeconfig: not in any row of the portal's database, not in any log.
    user = next(u for u in yaml.safe_load(kubeconfig.read_text())["users"] if u["user"].get("client-key-data"))
    key_pem = base64.b64decode(user["user"]["client-key-data"]).decode()
    key_body = "".join(line for line in key_pem.splitlines() if "PRIVATE KEY" not in line)
    for model in apps.get_models():
        for row in model.objects.all().values():
            assert key_body[:40] not in json.dumps(row, default=str), f"key material in {model._meta.label}"
    for log in [Path(celery_worker.log_path), *ROOT.joinpath("var").glob("*.log")]:
        assert key_body[:40] not in log.read_text(errors="replace"), f"key material in {log}"


@pytest.mark.django_db(transaction=True)
def test_managers_decide_from_the_terminal(cli, member, manager, team):
    make_cluster("dev")
    alice, bob = cli(member), cli(manager)
    asked = alice("request", "namespace", "payments-two", "--team", "payments", "--cluster", "dev", "--tier", "small", "-o", "json")
    assert asked.returncode == 0, asked.stderr
    request_id = json.loads(asked.stdout)["id"]
    pending = bob("requests", "--pending", "-o", "json")
    assert [r["id"] for r in json.loads(pending.stdout)] == [request_id]
    assert str(request_id) in bob("requests", "--pending").stdout
    own = alice("approve", str(request_id))
    assert own.returncode == 1 and "only managers of team payments" in own.stderr
    missing_reason = bob("reject", str(request_id))
    assert missing_reason.returncode == 2 and "--reason" in missing_reason.stderr
    rejected = bob("reject", str(request_id), "--reason", "use payments-dev")
    assert rejected.returncode == 0 and "rejected" in rejected.stdout
    assert Request.objects.get(pk=request_id).state == Request.State.REJECTED
    again = bob("reject", str(request_id), "--reason", "twice")
    assert again.returncode == 1 and "already rejected" in again.stderr


@pytest.mark.django_db(transaction=True)
def test_quota_and_extend_from_the_terminal(cli, member, team):
    dev = make_cluster("dev")
    make_namespace(team, dev, "payments-dev", owner=member, expires_at=timezone.now() + timedelta(hours=5))
    alice = cli(member)
    shown = alice("quota", "payments-dev")
    assert shown.returncode == 0 and "requests.cpu" in shown.stdout
    changed = alice("quota", "payments-dev", "--set", "requests.cpu=3,limits.cpu=6", "--reason", "load test", "-o", "json")
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout)["quota"]["requests.cpu"] == "3"
    extended = alice("extend", "payments-dev", "--ttl", "7d")
    assert extended.returncode == 0 and "extension request" in extended.stdout
    assert Request.objects.get(kind=Request.Kind.EXTENSION).payload["ttl_hours"] == 168
    detail = alice("namespace", "payments-dev")
    assert "Open policy violations: 0" in detail.stdout and "Phase:      Ready" in detail.stdout


@pytest.mark.django_db(transaction=True)
def test_bad_input_and_no_login_give_clear_messages(cli, member, team):
    make_cluster("dev")
    alice = cli(member)
    bad = alice("request", "namespace", "Bad_Name", "--team", "payments", "--cluster", "dev")
    assert bad.returncode == 1 and bad.stderr.startswith("error: name: must consist of lower case letters")
    assert not Request.objects.exists()
    unknown = alice("namespace", "nope")
    assert unknown.returncode == 1 and 'no namespace "nope"' in unknown.stderr
    usage = alice("request", "namespace", "x", "--cluster", "dev")
    assert usage.returncode == 2 and "--team" in usage.stderr
    assert alice("request", "namespace", "x", "--team", "payments", "--cluster", "dev", "--ttl", "soon").returncode == 2
    assert alice("logout").returncode == 0
    anonymous = alice("namespaces")
    assert anonymous.returncode == 1 and "run `kubectl portal login" in anonymous.stderr
    wrong = alice("login", "--url", "http://127.0.0.1:9", "--token-stdin", stdin="x\n")
    assert wrong.returncode == 1 and "cannot reach the portal" in wrong.stderr
