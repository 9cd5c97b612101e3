"""``GET /api/v1/teams/``: the caller's teams and their role in each."""

from django.db.models import Count, OuterRef, Subquery
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from apps.approvals.api.serializers import error_responses
from apps.teams.api.serializers import TeamSerializer
from apps.teams.models import Membership, Team
from apps.teams.selectors import teams_visible_to


@extend_schema_view(
    list=extend_schema(summary="List your teams", tags=["teams"],
                       description="Teams you belong to, with your role; platform admins and auditors see every team.",
                       responses={200: TeamSerializer(many=True), **error_responses(401)}),
)
class TeamViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = TeamSerializer
    queryset = Team.objects.none()  # schema only; rows come from the selector
    filterset_class = None

    def get_queryset(self):
        user = self.request.user
        # Role and size are annotated in the same query, so the list costs the
        # same number of queries for 1 team or 500.
        own_role = Membership.objects.filter(team=OuterRef("pk"), user=user).values("role")[:1]
        member_count = Membership.objects.filter(team=OuterRef("pk")).order_by().values("team").annotate(n=Count("pk")).values("n")
        return (teams_visible_to(user)
                .annotate(role=Subquery(own_role), member_count=Subquery(member_count))
                .order_by("slug"))
