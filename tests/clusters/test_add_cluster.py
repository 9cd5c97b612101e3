"""``manage.py add_cluster NAME --kubeconfig FILE [--context C]``."""

from __future__ import annotations

import base64
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEvent
from apps.clusters import kube
from apps.clusters.models import Cluster
from tests.conftest import install_portal_rbac


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("add_cluster", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def portal_token(kubesim, db):
    return install_portal_rbac(kubesim)


def test_registers_a_cluster_from_a_token_kubeconfig_without_printing_the_secret(kubesim, portal_token, tmp_path):
    path = kubesim.token_kubeconfig(portal_token, tmp_path / "portal.kubeconfig", user="portal")

    out, err = run("prod", "--kubeconfig", str(path))

    cluster = Cluster.objects.get(name="prod")
    assert out.startswith(f"Registered cluster prod: {kubesim.url} (ServiceAccount token)")
    assert "healthy, Kubernetes v1." in out and err == ""
    assert portal_token not in out + err
    assert portal_token not in cluster.credentials_encrypted  # encrypted at rest
    assert cluster.get_credentials() == {"token": portal_token}
    assert cluster.ca_bundle == Path(kubesim.ca_path).read_text()
    assert cluster.health == Cluster.Health.HEALTHY
    assert kube.get_version(cluster)
    event = AuditEvent.objects.get(action="cluster.register")
    assert portal_token not in str(event.after) and event.after["auth_kind"] == "token"


def test_running_again_updates_the_same_cluster(kubesim, portal_token, tmp_path):
    run("prod", "--kubeconfig", str(kubesim.token_kubeconfig(portal_token, tmp_path / "a.kubeconfig")))
    admin = kubesim.admin_kubeconfig

    out, _ = run("prod", "--kubeconfig", str(admin))

    assert out.startswith("Updated cluster prod:") and "(Client certificate)" in out
    assert Cluster.objects.filter(name="prod").count() == 1
    assert Cluster.objects.get(name="prod").auth_kind == Cluster.AuthKind.CLIENT_CERTIFICATE
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == ["cluster.register", "cluster.update"]


def test_context_option_picks_another_context(kubesim, portal_token, tmp_path):
    config = yaml.safe_load(kubesim.admin_kubeconfig.read_text())
    config["users"].append({"name": "portal", "user": {"token": portal_token}})
    config["contexts"].append({"name": "as-portal", "context": {"cluster": config["clusters"][0]["name"], "user": "portal"}})
    path = tmp_path / "two.kubeconfig"
    path.write_text(yaml.safe_dump(config))

    run("prod", "--kubeconfig", str(path), "--context", "as-portal")

    assert Cluster.objects.get(name="prod").get_credentials() == {"token": portal_token}


def test_files_referenced_by_the_kubeconfig_are_read_relative_to_it(kubesim, db, tmp_path):
    config = yaml.safe_load(kubesim.admin_kubeconfig.read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    (tmp_path / "ca.crt").write_bytes(base64.b64decode(cluster.pop("certificate-authority-data")))
    (tmp_path / "client.crt").write_bytes(base64.b64decode(user.pop("client-certificate-data")))
    (tmp_path / "client.key").write_bytes(base64.b64decode(user.pop("client-key-data")))
    cluster["certificate-authority"], user["client-certificate"], user["client-key"] = "ca.crt", "client.crt", "client.key"
    (tmp_path / "files.kubeconfig").write_text(yaml.safe_dump(config))

    out, _ = run("files", "--kubeconfig", str(tmp_path / "files.kubeconfig"))

    assert "healthy" in out
    assert Cluster.objects.get(name="files").ca_bundle == (tmp_path / "ca.crt").read_text()


def test_missing_file_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="kubeconfig file not found: .*nope.kubeconfig"):
        run("prod", "--kubeconfig", str(tmp_path / "nope.kubeconfig"))


def test_unknown_context_lists_the_available_ones(kubesim, db):
    with pytest.raises(CommandError, match=r'no context "staging" in the kubeconfig; it has: kubesim-admin@kubesim'):
        run("prod", "--kubeconfig", str(kubesim.admin_kubeconfig), "--context", "staging")
    assert not Cluster.objects.exists()


def test_user_without_credentials_is_refused(kubesim, db, tmp_path):
    config = yaml.safe_load(kubesim.admin_kubeconfig.read_text())
    config["users"][0]["user"] = {}
    (tmp_path / "k").write_text(yaml.safe_dump(config))

    with pytest.raises(CommandError, match="has no credentials"):
        run("prod", "--kubeconfig", str(tmp_path / "k"))


def test_exec_plugins_are_refused(kubesim, db, tmp_path):
    config = yaml.safe_load(kubesim.admin_kubeconfig.read_text())
    config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "aws"}}
    (tmp_path / "k").write_text(yaml.safe_dump(config))

    with pytest.raises(CommandError, match="exec/auth-provider credentials cannot be used"):
        run("prod", "--kubeconfig", str(tmp_path / "k"))


def test_an_unreachable_cluster_is_registered_with_a_warning(kubesim, db, tmp_path):
    config = yaml.safe_load(kubesim.admin_kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    (tmp_path / "k").write_text(yaml.safe_dump(config))

    out, err = run("later", "--kubeconfig", str(tmp_path / "k"))

    assert out.startswith("Registered cluster later:")
    assert "registered, but not reachable now" in err
    assert Cluster.objects.get(name="later").health == Cluster.Health.UNREACHABLE


def test_the_private_key_is_never_printed(kubesim, db):
    key = yaml.safe_load(kubesim.admin_kubeconfig.read_text())["users"][0]["user"]["client-key-data"]

    out, err = run("prod", "--kubeconfig", str(kubesim.admin_kubeconfig))

    pem = base64.b64decode(key).decode()
    assert key not in out + err and pem.splitlines()[1] not in out + err
