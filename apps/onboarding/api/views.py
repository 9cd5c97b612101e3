"""REST API for onboarding: ``/api/v1/membership-requests/`` and ``/api/v1/kubeconfigs/``.

Views hold no rules: visibility from the selectors, the rules in the services,
errors mapped by ``apps.core.api.errors.exception_handler`` (plus 502/504 for a
cluster that did not sign).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from apps.approvals.models import Request
from apps.approvals.viewsets import RequestWorkflowViewSet, workflow_schema
from apps.core.api.errors import error_responses
from apps.core.api.idempotency import idempotency_key_from
from apps.onboarding import selectors
from apps.onboarding.api.serializers import (
    IssuedCertificateSerializer,
    KubeconfigCreateInputSerializer,
    KubeconfigSerializer,
    MembershipRequestCreateInputSerializer,
    MembershipRequestSerializer,
)
from apps.onboarding.services import KubeconfigIssueError, kubeconfig_issue, membership_request_submit


@workflow_schema(noun="membership request", output=MembershipRequestSerializer,
                 create_input=MembershipRequestCreateInputSerializer, tag="membership-requests")
class MembershipRequestViewSet(RequestWorkflowViewSet):
    """``/api/v1/membership-requests/``: ask to join a team; its managers decide (four-eyes)."""

    kind = Request.Kind.MEMBERSHIP
    output_serializer_class = MembershipRequestSerializer

    def get_serializer_class(self):
        if self.action == "create":
            return MembershipRequestCreateInputSerializer
        return super().get_serializer_class()

    def create(self, request):
        key = idempotency_key_from(request)
        data = self._input(MembershipRequestCreateInputSerializer)
        return self.respond_submitted(membership_request_submit(actor=request.user, idempotency_key=key, **data))


@extend_schema_view(
    list=extend_schema(summary="List issued certificates", tags=["kubeconfigs"],
                       description="Your own certificates; platform admins and auditors see everyone's. Never contains keys.",
                       responses={200: IssuedCertificateSerializer(many=True), **error_responses(401)}),
    retrieve=extend_schema(summary="Get one issued certificate", tags=["kubeconfigs"],
                           responses={200: IssuedCertificateSerializer, **error_responses(401, 404)}),
    create=extend_schema(
        summary="Issue a kubeconfig", tags=["kubeconfigs"], request=KubeconfigCreateInputSerializer,
        description=(
            "Has the cluster sign a client certificate for your cluster identity (CertificateSigningRequest, "
            "signer kubernetes.io/kube-apiserver-client) and returns a kubeconfig once. With `csr` your key never "
            "leaves you (add `client-key-data` yourself); without it the portal generates a key, includes it and "
            "forgets it. A bad CSR is a 400 naming the rule (pem, signature, key, cn, organisation). 403 for a "
            "namespace you have no access to, naming the ones you can; 404 for an unknown cluster; 502/504 when the cluster failed or did not sign in time (nothing issued)."),
        responses={201: KubeconfigSerializer, **error_responses(400, 401, 403, 404),
                   502: OpenApiResponse(description="The cluster refused or failed; the CSR was deleted, nothing issued"),
                   504: OpenApiResponse(description="The cluster did not sign in time; the CSR was deleted, nothing issued")},
    ),
)
class KubeconfigViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """``/api/v1/kubeconfigs/``: issue a kubeconfig, and the inventory of issued certificates."""

    queryset = selectors.IssuedCertificate.objects.none()
    serializer_class = IssuedCertificateSerializer
    parser_classes = [JSONParser]
    filterset_fields = []
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return selectors.certificates_visible_to(self.request.user)

    def get_object(self):
        return selectors.certificate_get_for_user(self.request.user, self.kwargs["pk"])

    def get_serializer_class(self):
        if self.action == "create":
            return KubeconfigCreateInputSerializer
        return IssuedCertificateSerializer

    def create(self, request):
        serializer = KubeconfigCreateInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        cluster = selectors.kubeconfig_cluster_get(request.user, data["cluster"])
        namespace = selectors.kubeconfig_namespace_get(request.user, cluster, data["namespace"]) if data["namespace"] else None
        renews = selectors.own_certificate_get(request.user, data["renews"]) if data["renews"] else None
        try:
            issued = kubeconfig_issue(actor=request.user, cluster=cluster, namespace=namespace, csr_pem=data["csr"] or None,
                                      reason=data["reason"], renews=renews, expiration_seconds=data["expiration_seconds"])
        except KubeconfigIssueError as exc:
            code = status.HTTP_504_GATEWAY_TIMEOUT if exc.timeout else status.HTTP_502_BAD_GATEWAY
            return Response({"detail": str(exc)}, status=code)
        cert = issued.certificate
        cert.kubeconfig = issued.kubeconfig
        cert.includes_key = issued.includes_key
        response = Response(KubeconfigSerializer(cert, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED)
        # The body may hold a private key: no cache anywhere may keep it.
        response["Cache-Control"] = "no-store"
        return response
