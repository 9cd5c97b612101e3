"""Teams API: ``/api/v1/teams/`` (my teams; platform admins create, edit and archive them),
``/api/v1/teams/{slug}/members/`` (manage members) and ``/api/v1/users/{username}/deactivate/``
(platform admins).

Views hold no rules: visibility comes from ``apps.teams.selectors`` (404 for
outsiders), the membership rules (managers or admins only, a team keeps a
manager, members may leave, audit, reconcile after commit) from
``apps.teams.services``, whose errors ``apps.core.api.errors.exception_handler``
maps to 400/403/409.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from apps.accounts.models import User
from apps.core.api.errors import error_responses
from apps.core.api.serializers import EmptyInputSerializer
from apps.teams.api.serializers import (
    DeactivatedUserSerializer,
    MemberAddInputSerializer,
    MemberRoleInputSerializer,
    MembershipSerializer,
    TeamCreateInputSerializer,
    TeamSerializer,
    TeamUpdateInputSerializer,
)
from apps.teams.models import Membership, Team
from apps.teams.selectors import team_get_for_user, teams_with_counts
from apps.teams.services import (
    membership_add,
    membership_change_role,
    membership_remove,
    team_archive,
    team_create,
    team_restore,
    team_update,
    user_deactivate,
)

_TEAM_SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="Team slug")


@extend_schema_view(
    list=extend_schema(summary="List your teams", tags=["teams"],
                       description="Teams you belong to, with your role; platform admins and auditors see every team "
                                   "(archived ones included, marked `archived`).",
                       responses={200: TeamSerializer(many=True), **error_responses(401)}),
    retrieve=extend_schema(summary="Get a team", tags=["teams"], parameters=[_TEAM_SLUG],
                           description="404 for a team you cannot see.",
                           responses={200: TeamSerializer, **error_responses(401, 404)}),
    create=extend_schema(
        summary="Create a team", tags=["teams"], request=TeamCreateInputSerializer,
        description="Platform admins only. `manager` (optional) becomes the team's first manager; the creation and "
                    "the membership are audited.",
        responses={201: OpenApiResponse(TeamSerializer, description="Created"), **error_responses(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Edit, archive or restore a team", tags=["teams"], parameters=[_TEAM_SLUG],
        request=TeamUpdateInputSerializer,
        description="Platform admins change every field; the team's managers `description` and `contact` (403 "
                    "naming any other field). The slug is fixed once the team has namespaces (400 on `slug`). "
                    "`archived: true` is refused with 409 while the team has live namespaces or open requests. "
                    "All or nothing: a refused part changes nothing. Every change is audited.",
        responses={200: TeamSerializer, **error_responses(400, 401, 403, 404, 409)},
    ),
)
class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TeamSerializer
    queryset = Team.objects.none()  # schema only; rows come from the selector
    filterset_class = None
    parser_classes = [JSONParser]
    lookup_field = "slug"
    lookup_value_regex = "[-a-zA-Z0-9_]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        # Role and size in the same query: the list costs the same for 1 team or 500.
        return teams_with_counts(self.request.user).order_by("slug")

    def get_object(self) -> Team:
        team = self.get_queryset().filter(slug=self.kwargs["slug"]).first()
        if team is None:
            raise Http404("No such team")
        return team

    def _respond(self, slug: str, status_code: int = status.HTTP_200_OK, headers=None) -> Response:
        team = self.get_queryset().get(slug=slug)
        return Response(TeamSerializer(team, context=self.get_serializer_context()).data, status=status_code,
                        headers=headers)

    def create(self, request):
        if not request.user.is_platform_admin:
            raise PermissionDenied("only platform admins can create teams")
        serializer = TeamCreateInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        team = team_create(actor=request.user, **serializer.validated_data)
        location = request.build_absolute_uri(reverse("team-detail", kwargs={"slug": team.slug}))
        return self._respond(team.slug, status.HTTP_201_CREATED, headers={"Location": location})

    def partial_update(self, request, slug=None):
        team = self.get_object()  # 404 for outsiders, before the body is read
        serializer = TeamUpdateInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        archived = changes.pop("archived", None)
        with transaction.atomic():  # all or nothing: a refused archive undoes the field changes
            if changes:
                team = team_update(actor=request.user, team=team, **changes)
            if archived is True and not team.archived:
                team = team_archive(actor=request.user, team=team)
            elif archived is False and team.archived:
                team = team_restore(actor=request.user, team=team)
            elif archived is not None and not request.user.is_platform_admin:
                raise PermissionDenied("only platform admins can archive or restore teams")
        return self._respond(team.slug)


# --- members ----------------------------------------------------------------------------------

_SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="Team slug")
_USERNAME = OpenApiParameter("username", str, OpenApiParameter.PATH, description="Username of the member")
# Django's username characters (letters, digits and @.+-_).
USERNAME_REGEX = r"[\w.@+-]+"


def _username_errors(exc: ValidationError) -> ValidationError:
    """The service names the person ``user``; the API's input field is ``username``."""
    if hasattr(exc, "error_dict") and "user" in exc.error_dict:
        errors = dict(exc.error_dict)
        errors["username"] = errors.pop("user")
        return ValidationError(errors)
    return exc


@extend_schema_view(
    list=extend_schema(summary="List a team's members", tags=["team-members"], parameters=[_SLUG],
                       description="Anyone who can see the team (its members, platform admins, auditors). "
                                   "404 for a team you cannot see.",
                       responses={200: MembershipSerializer(many=True), **error_responses(401, 404)}),
    retrieve=extend_schema(summary="Get one member of a team", tags=["team-members"], parameters=[_SLUG, _USERNAME],
                           responses={200: MembershipSerializer, **error_responses(401, 404)}),
    create=extend_schema(
        summary="Add a member to a team", tags=["team-members"], parameters=[_SLUG], request=MemberAddInputSerializer,
        description="Managers of the team and platform admins. Their RoleBindings are applied to every namespace of "
                    "the team after the change commits. Someone already in the team is a 400 on `username`: change "
                    "their role with PATCH instead.",
        responses={201: OpenApiResponse(MembershipSerializer, description="Added"), **error_responses(400, 401, 403, 404)},
    ),
    partial_update=extend_schema(
        summary="Change a member's role", tags=["team-members"], parameters=[_SLUG, _USERNAME],
        request=MemberRoleInputSerializer,
        description="Managers of the team and platform admins. 409 when it would leave the team without a manager.",
        responses={200: OpenApiResponse(MembershipSerializer, description="The membership with its new role"),
                   **error_responses(400, 401, 403, 404, 409)},
    ),
    destroy=extend_schema(
        summary="Remove a member (or leave)", tags=["team-members"], parameters=[_SLUG, _USERNAME],
        description="Managers of the team and platform admins remove anyone; every member may remove themselves "
                    "(leave). One reconcile pass deletes their RoleBindings everywhere; certificates already issued "
                    "stay valid until they expire but grant nothing. 409 for the team's last manager.",
        responses={204: OpenApiResponse(description="Removed"), **error_responses(401, 403, 404, 409)},
    ),
)
class TeamMemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """``/api/v1/teams/{slug}/members/``: the members of a team, managed like the team page does.

    The team comes from the selector first (404 for anyone who cannot see
    it, before the body is even read); who may change what is the services'.
    """

    serializer_class = MembershipSerializer
    queryset = Membership.objects.none()  # schema only; rows come from the team
    filterset_class = None
    parser_classes = [JSONParser]
    lookup_field = "username"
    lookup_value_regex = USERNAME_REGEX
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_team(self) -> Team:
        if not hasattr(self, "_team"):
            self._team = team_get_for_user(self.request.user, self.kwargs["slug"])
        return self._team

    def get_queryset(self):
        # One query for the page whatever the team's size: the user comes joined.
        return Membership.objects.filter(team=self.get_team()).select_related("user").order_by("user__username")

    def get_object(self) -> Membership:
        membership = self.get_queryset().filter(user__username=self.kwargs["username"]).first()
        if membership is None:
            raise Http404("No such member")
        return membership

    def _input(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _respond(self, membership: Membership, status_code: int = status.HTTP_200_OK, headers=None) -> Response:
        return Response(MembershipSerializer(membership, context=self.get_serializer_context()).data,
                        status=status_code, headers=headers)

    def create(self, request, slug=None):
        team = self.get_team()
        data = self._input(MemberAddInputSerializer)
        try:
            membership = membership_add(actor=request.user, team=team, user=data["username"], role=data["role"],
                                        change_existing=False)
        except ValidationError as exc:
            raise _username_errors(exc) from exc
        location = request.build_absolute_uri(
            reverse("team-member-detail", kwargs={"slug": team.slug, "username": membership.user.username}))
        return self._respond(membership, status.HTTP_201_CREATED, headers={"Location": location})

    def partial_update(self, request, slug=None, username=None):
        membership = self.get_object()
        data = self._input(MemberRoleInputSerializer)
        try:
            membership = membership_change_role(actor=request.user, membership=membership, role=data["role"])
        except Membership.DoesNotExist:
            raise Http404("No such member") from None  # removed while we were deciding
        return self._respond(membership)

    def destroy(self, request, slug=None, username=None):
        membership = self.get_object()
        try:
            membership_remove(actor=request.user, membership=membership)
        except Membership.DoesNotExist:
            raise Http404("No such member") from None  # removed concurrently: nothing left to remove
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- users ------------------------------------------------------------------------------------


class UserViewSet(viewsets.GenericViewSet):
    """``/api/v1/users/{username}/deactivate/``: platform admins take someone's access away."""

    queryset = User.objects.none()  # schema only
    serializer_class = DeactivatedUserSerializer
    filterset_class = None
    pagination_class = None
    parser_classes = [JSONParser]
    lookup_field = "username"
    lookup_value_regex = USERNAME_REGEX

    @extend_schema(
        summary="Deactivate a user", tags=["users"], request=EmptyInputSerializer,
        parameters=[OpenApiParameter("username", str, OpenApiParameter.PATH, description="Username to deactivate")],
        description="Platform admins only (404 for everyone else, as the page). The user can no longer log in, their "
                    "API tokens are deleted and they leave every team; one reconcile per team removes their "
                    "RoleBindings. Issued certificates stay valid until they expire but grant nothing. "
                    "409 for yourself.",
        responses={200: DeactivatedUserSerializer, **error_responses(400, 401, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request, username=None):
        # Like the page: to anyone but a platform admin this endpoint does not
        # exist, so it says nothing about which usernames do.
        if not request.user.is_platform_admin:
            raise Http404("No such page")
        user = User.objects.filter(username=username).first()
        if user is None:
            raise Http404("No such user")
        serializer = EmptyInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        user_deactivate(actor=request.user, user=user)
        user.refresh_from_db(fields=["is_active"])
        return Response(DeactivatedUserSerializer(user).data)
