"""Demo data for `make run`: three people, one team. Safe to run any number of times."""

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.models import User
from apps.teams.models import Membership, Team
from apps.teams.services import membership_add, team_create

# Well-known passwords: this command is for a laptop demo, never for production.
DEMO_USERS = [
    # username, password, platform role, team role, description
    ("alice", "alice-portal-demo", User.PlatformRole.NONE, Membership.Role.MEMBER, "developer in team payments"),
    ("bob", "bob-portal-demo", User.PlatformRole.NONE, Membership.Role.MANAGER, "manager of team payments"),
    ("carol", "carol-portal-demo", User.PlatformRole.ADMIN, None, "platform admin"),
]


class Command(BaseCommand):
    help = "Create the demo users alice, bob and carol and the team payments (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        team = Team.objects.filter(slug="payments").first() or team_create(
            actor=None, slug="payments", name="Payments", contact="#payments"
        )
        lines = []
        for username, password, platform_role, team_role, description in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
            user.platform_role = platform_role
            user.is_staff = platform_role == User.PlatformRole.ADMIN
            user.is_superuser = platform_role == User.PlatformRole.ADMIN
            user.set_password(password)
            user.save()
            if team_role and Membership.objects.filter(user=user, team=team, role=team_role).first() is None:
                membership_add(actor=None, team=team, user=user, role=team_role)
            lines.append(f"  {username:<6} password {password:<20} {description}")
        self.stdout.write("Demo users:\n" + "\n".join(lines))
