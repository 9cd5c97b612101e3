from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.accounts.services import api_token_issue


class Command(BaseCommand):
    help = "Issue an API token for a user and print it (it is shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label for the token, e.g. 'ci'")
        parser.add_argument("--days", type=int, default=None,
                            help="Lifetime in days (default API_TOKEN_DEFAULT_DAYS, at most API_TOKEN_MAX_DAYS)")

    def handle(self, *args, username, name, days, **options):
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f'no user "{username}"') from None
        if not user.is_active:
            raise CommandError(f'user "{username}" is inactive')
        try:
            _, token = api_token_issue(actor=None, user=user, name=name, expires_in_days=days)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())) from None
        self.stdout.write(token)
