"""``/api/v1/teams/``, ``/api/v1/teams/{slug}/members/`` and ``/api/v1/users/{username}/deactivate/``."""

from rest_framework.routers import SimpleRouter

from apps.teams.api.views import TeamMemberViewSet, TeamViewSet, UserViewSet

router = SimpleRouter()
router.register("teams", TeamViewSet, basename="team")
# The team slug is part of the prefix, named ``slug`` like the page URLs.
router.register(r"teams/(?P<slug>[-a-zA-Z0-9_]+)/members", TeamMemberViewSet, basename="team-member")
router.register("users", UserViewSet, basename="user")

urlpatterns = router.urls
