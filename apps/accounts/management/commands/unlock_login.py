from django.core.management.base import BaseCommand, CommandError

from apps.accounts.services import login_unlock
from apps.core.errors import ServiceError


class Command(BaseCommand):
    help = "Lift the sign-in lockout of a username (recorded in the audit log)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        try:
            login_unlock(actor=None, username=username)
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f'"{username}" can sign in again.')
