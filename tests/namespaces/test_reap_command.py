"""``manage.py reap_expired --dry-run`` lists what the reaper would delete and changes nothing; without it, it reaps."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.namespaces import tasks
from apps.namespaces.models import Namespace
from tests.pages import make_cluster, make_namespace

pytestmark = pytest.mark.django_db


def test_dry_run_lists_and_changes_nothing_then_the_real_run_reaps(team, member, monkeypatch):
    monkeypatch.setattr(tasks.delete_namespace, "delay", lambda *a, **k: None)
    cluster = make_cluster("dev")
    old = make_namespace(team, cluster, "payments-old", owner=member, expires_at=timezone.now() - timedelta(hours=5))
    make_namespace(team, cluster, "payments-kept", owner=member, expires_at=timezone.now() - timedelta(hours=5), protected=True)
    make_namespace(team, cluster, "payments-new", owner=member, expires_at=timezone.now() + timedelta(hours=5))
    out = io.StringIO()
    call_command("reap_expired", "--dry-run", stdout=out)
    assert out.getvalue().splitlines()[0].startswith("dev/payments-old (team payments): expired ")
    assert "1 namespace(s) would be deleted; nothing was changed" in out.getvalue()
    assert Namespace.objects.get(pk=old.pk).phase == Namespace.Phase.READY
    out = io.StringIO()
    call_command("reap_expired", stdout=out)
    assert "1 namespace(s) are being deleted" in out.getvalue()
    assert Namespace.objects.get(pk=old.pk).phase == Namespace.Phase.TERMINATING
    assert Namespace.objects.filter(phase=Namespace.Phase.TERMINATING).count() == 1
