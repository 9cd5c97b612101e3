"""Serializers of the onboarding API: join requests and kubeconfigs.

Types only; the rules (who may join, CSR checks, namespace visibility) live
in the services and selectors.
"""

from __future__ import annotations

from rest_framework import serializers

from apps.approvals.viewsets import RequestSerializer
from apps.core.api.serializers import StrictCharField, StrictInputSerializer, StrictIntegerField
from apps.onboarding.models import IssuedCertificate
from apps.onboarding.services import JOINABLE_ROLES
from apps.teams.fields import TeamSlugField
from apps.teams.models import Membership, Team


class MembershipRequestSerializer(RequestSerializer):
    """A join-team request as the API shows it."""

    role = serializers.SerializerMethodField()
    note = serializers.SerializerMethodField()

    def get_role(self, obj) -> str:
        return obj.payload.get("role", "")

    def get_note(self, obj) -> str:
        return obj.payload.get("note", "")


class MembershipRequestCreateInputSerializer(StrictInputSerializer):
    """Body of ``POST /api/v1/membership-requests/``."""

    # Any team: asking to join is how a newcomer starts.
    team = TeamSlugField(queryset_for=lambda user: Team.objects.all(), help_text="Slug of the team to join")
    role = serializers.ChoiceField(choices=[(r, Membership.Role(r).label) for r in JOINABLE_ROLES], required=False,
                                   default=Membership.Role.MEMBER, help_text="member or viewer")
    note = StrictCharField(required=False, allow_blank=True, default="", max_length=500,
                           help_text="Shown to the team's managers")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].error_messages["not_found"] = 'no team "{slug}"'


class IssuedCertificateSerializer(serializers.ModelSerializer):
    """One certificate of the inventory (public facts only; keys are never stored)."""

    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    namespace = serializers.CharField(source="namespace_name", read_only=True)
    issued_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    expired = serializers.BooleanField(source="is_expired", read_only=True)

    class Meta:
        model = IssuedCertificate
        fields = ["id", "user", "cluster", "namespace", "subject", "serial", "fingerprint_sha256", "not_before",
                  "not_after", "expired", "csr_name", "key_mode", "key_algorithm", "reason", "issued_by", "renews",
                  "issue_seconds", "created_at"]
        read_only_fields = fields


class KubeconfigSerializer(IssuedCertificateSerializer):
    """The answer to an issuance: the inventory row plus the kubeconfig (returned once)."""

    kubeconfig = serializers.CharField(read_only=True, help_text="YAML. Contains the private key only when the portal generated it")
    includes_key = serializers.BooleanField(read_only=True)

    class Meta(IssuedCertificateSerializer.Meta):
        fields = [*IssuedCertificateSerializer.Meta.fields, "kubeconfig", "includes_key"]
        read_only_fields = fields


class KubeconfigCreateInputSerializer(StrictInputSerializer):
    """Body of ``POST /api/v1/kubeconfigs/``."""

    cluster = StrictCharField(max_length=63, help_text="Cluster name")
    namespace = StrictCharField(required=False, allow_blank=True, default="", max_length=63,
                                help_text="Default namespace of the context; must be one you can see")
    csr = StrictCharField(required=False, allow_blank=True, default="", max_length=16384, trim_whitespace=False,
                          help_text="PEM PKCS#10 CSR with CN = your cluster identity; omit to let the portal generate the key")
    reason = StrictCharField(required=False, allow_blank=True, default="", max_length=200)
    renews = StrictIntegerField(required=False, allow_null=True, default=None, help_text="Id of the certificate this one replaces")
    expiration_seconds = StrictIntegerField(required=False, allow_null=True, default=None, min_value=600,
                                            help_text="Shorter lifetime than the default; capped by the admin-set maximum")
