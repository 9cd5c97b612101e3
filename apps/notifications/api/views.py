"""``/api/v1/notifications/``: my inbox for REST clients; mark read; my email settings.

Only ever the caller's own notifications: another person's id is a 404.
"""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.errors import error_responses
from apps.core.api.serializers import EmptyInputSerializer
from apps.notifications.api.serializers import EmailSettingsSerializer, NotificationSerializer
from apps.notifications.models import Kind, Notification
from apps.notifications.selectors import email_opt_outs, notification_get_for_user, notifications_of
from apps.notifications.services import email_opt_outs_set, notifications_mark_read


class NotificationFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=[("unread", "Unread"), ("read", "Read")], method="filter_state",
                                        label="State", empty_label="Read and unread")
    kind = django_filters.ChoiceFilter(choices=Kind.choices)

    class Meta:
        model = Notification
        fields = ["state", "kind"]

    def filter_state(self, queryset, name, value):
        return queryset.filter(read_at__isnull=(value == "unread"))


_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Id of the notification")


@extend_schema_view(
    list=extend_schema(summary="My notifications", tags=["notifications"],
                       description="Newest first; `state=unread` for the unread ones. What the inbox page shows.",
                       responses={200: NotificationSerializer(many=True), **error_responses(400, 401)}),
    retrieve=extend_schema(summary="One of my notifications", tags=["notifications"], parameters=[_ID],
                           responses={200: NotificationSerializer, **error_responses(401, 404)}),
)
class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()  # schema and filter model only; rows come from the selector
    filterset_class = NotificationFilterSet
    lookup_value_regex = "[0-9]+"
    parser_classes = [JSONParser]

    def get_queryset(self):
        return notifications_of(self.request.user)

    def get_object(self) -> Notification:
        return notification_get_for_user(self.request.user, self.kwargs["pk"])

    @extend_schema(summary="Mark one notification read", tags=["notifications"], parameters=[_ID],
                   request=EmptyInputSerializer, responses={200: NotificationSerializer, **error_responses(400, 401, 404)})
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        notification = self.get_object()
        notifications_mark_read(request.user, [notification.pk])
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(summary="Mark all my notifications read", tags=["notifications"], request=EmptyInputSerializer,
                   responses={200: {"type": "object", "properties": {"marked": {"type": "integer"}}}, **error_responses(400, 401)})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        return Response({"marked": notifications_mark_read(request.user)})


class EmailSettingsView(APIView):
    """``/api/v1/notifications/email-settings/``: which kinds are not emailed to me."""

    parser_classes = [JSONParser]

    @extend_schema(summary="My email settings", tags=["notifications"],
                   responses={200: EmailSettingsSerializer, **error_responses(401)})
    def get(self, request):
        return Response({"email_off": sorted(email_opt_outs(request.user))})

    @extend_schema(summary="Set which kinds are not emailed to me", tags=["notifications"],
                   description="`email_off` is the whole list: kinds left out are emailed again.",
                   request=EmailSettingsSerializer, responses={200: EmailSettingsSerializer, **error_responses(400, 401)})
    def put(self, request):
        body = EmailSettingsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        email_opt_outs_set(request.user, set(body.validated_data["email_off"]))
        return self.get(request)
