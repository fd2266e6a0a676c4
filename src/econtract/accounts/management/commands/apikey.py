from django.core.management.base import BaseCommand, CommandError

from econtract.accounts.models import User
from econtract.accounts.services import create_api_key


class Command(BaseCommand):
    help = "Manage API keys: `apikey create EMAIL` prints the new key alone on the last line."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("action", choices=["create"])
        parser.add_argument("email")
        parser.add_argument("--name", default="cli")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        user = User.objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError(f"no user with email {options['email']}")
        key, secret = create_api_key(user, name=options["name"])
        self.stdout.write(
            f"API key {key.prefix}… for {user.email} in {key.organization.name}; it is shown only once:"
        )
        self.stdout.write(secret)
