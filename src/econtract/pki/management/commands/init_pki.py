from __future__ import annotations

import hashlib
from typing import Any

from django.core.management.base import BaseCommand

from econtract.pki.services import ensure_platform_pki, root_certificate


class Command(BaseCommand):
    help = "Create the platform PKI (root, issuing CA, TSA, OCSP responder) if missing; print the root."

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_platform_pki()
        root = root_certificate()
        assert root is not None
        digest = hashlib.sha256(root.dump()).hexdigest().upper()
        fingerprint = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
        self.stdout.write(f"Root CA: {root.subject.human_friendly}")
        self.stdout.write(f"SHA-256 fingerprint: {fingerprint}")
