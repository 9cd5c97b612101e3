from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.accounts.services import api_token_issue


class Command(BaseCommand):
    help = "Issue an API token for a user and print it (it is shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label for the token, e.g. 'ci'")

    def handle(self, *args, username, name, **options):
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f'no user "{username}"') from None
        if not user.is_active:
            raise CommandError(f'user "{username}" is inactive')
        _, token = api_token_issue(actor=None, user=user, name=name)
        self.stdout.write(token)
