"""The profile: signing PIN and API keys."""

from __future__ import annotations

from django.urls import reverse

from econtract.accounts.models import ApiKey
from econtract.accounts.services import authenticate_api_key


def test_set_then_change_the_signing_pin(client, signer):
    client.force_login(signer)
    response = client.post(reverse("web:profile_pin"), {"pin": "12345", "pin2": "12345"})
    assert response.status_code == 400 and not hasattr(signer, "signer_key")

    response = client.post(reverse("web:profile_pin"), {"pin": "246810", "pin2": "246810"})
    assert response.status_code == 302
    signer.refresh_from_db()
    assert hasattr(signer, "signer_key")

    response = client.post(
        reverse("web:profile_pin"), {"current_pin": "000000", "pin": "135790", "pin2": "135790"}
    )
    assert response.status_code == 400
    assert "4" in str(response.context["pin_form"].non_field_errors())

    response = client.post(
        reverse("web:profile_pin"), {"current_pin": "246810", "pin": "135790", "pin2": "135790"}
    )
    assert response.status_code == 302


def test_api_key_secret_is_shown_once_and_can_be_revoked(client, sender, enterprise):
    client.force_login(sender)
    response = client.post(reverse("web:apikey_create"), {"name": "erp", "organization": enterprise.pk})
    secret = response.context["new_secret"]
    assert secret in response.content.decode()
    assert authenticate_api_key(secret).organization == enterprise
    assert secret not in client.get(reverse("web:profile")).content.decode()

    key = ApiKey.objects.get(name="erp")
    client.post(reverse("web:apikey_revoke", args=[key.pk]))
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_someone_elses_api_key_cannot_be_revoked(client, sender, signer):
    from econtract.accounts.services import create_api_key

    key, _ = create_api_key(sender)
    client.force_login(signer)
    assert client.post(reverse("web:apikey_revoke", args=[key.pk])).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
