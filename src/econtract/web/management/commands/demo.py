from django.core.management import call_command
from django.core.management.base import BaseCommand

from econtract.demo import build_demo


class Command(BaseCommand):
    help = "Create the demo enterprise and its seals, two users with passwords and PINs, an auditor, an API key and a signed sample."

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        call_command("migrate", interactive=False, verbosity=0)
        result = build_demo()
        self.stdout.write("Demo data (for trying econtract locally; never use these accounts in production):")
        for user in result.users:
            self.stdout.write(f"  email={user.email}  password={user.password}  PIN={user.pin}")
        self.stdout.write(
            f"  auditor (reads the seals' usage logs): email={result.auditor.email}  "
            f"password={result.auditor.password}"
        )
        names = ", ".join(user.verified_name for user in (*result.users, result.auditor))
        self.stdout.write(
            f"Identities ({names}) verified at L2 by the sandbox identity provider: test data, not a real register."
        )
        org = result.organization
        self.stdout.write(
            f"Organisation {org.name} (USCC {org.uscc}, legal representative {org.legal_rep_name}): "
            f"{org.verification_status}, by the sandbox enterprise check and sandbox bank transfer."
        )
        self.stdout.write(
            f"Second factor of {result.users[0].email} (an enterprise owner must have one): add the "
            f"authenticator secret {result.totp_secret} to an authenticator app "
            f"(or run: oathtool --totp -b {result.totp_secret})."
        )
        for seal in result.seals:
            self.stdout.write(
                f"Seal {seal.name} ({seal.seal_type}, {seal.shape}, certificate serial "
                f"{seal.certificate.serial_number}): managed by {result.users[0].email}, applied by "
                f"{result.users[1].email}"
                + (" with an approval each time" if seal.seal_type == "official" else "")
                + f", usage log read by {result.auditor.email} (auditor)."
            )
        self.stdout.write(f"API key ({result.users[0].email}): {result.api_key}")
        self.stdout.write(f"Signed sample contract: {result.sample_path}")
