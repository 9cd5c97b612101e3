"""The Django admin revokes API tokens through the audited service and cannot delete them."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_issue
from apps.audit.models import AuditEvent
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_admin_action_revokes_and_audits(member):
    root = make_user("root", is_staff=True, is_superuser=True)
    row, _ = api_token_issue(actor=None, user=member, name="ci")
    c = Client()
    c.force_login(root)
    response = c.post(reverse("admin:accounts_apitoken_changelist"), {"action": "revoke", "_selected_action": [row.pk]})
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=row.pk).revoked_at is not None
    assert AuditEvent.objects.get(action="api_token.revoke").actor == root
    # Deleting would erase what the audit log points at.
    assert c.get(reverse("admin:accounts_apitoken_delete", args=[row.pk])).status_code == 403
