"""Log in with, and verify identity through, an OpenID Connect provider: a real one over HTTP
(identity/tests/oidc_provider.py, Authlib's AuthorizationServer with PKCE required), our side
through the Django test client."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.core.exceptions import ImproperlyConfigured
from joserfc.jwk import RSAKey

from econtract.accounts.models import User
from econtract.evidence.models import Event
from econtract.identity import oidc
from econtract.identity.models import IdentityVerification
from econtract.identity.tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcTestProvider, query_of

ALICE = {
    "sub": "alice-0001",
    "name": "李四 Li Si",
    "email": "li.si@example.test",
    "email_verified": True,
}


@pytest.fixture
def client():
    """The pages in English, so the assertions below read the English text (the default is zh-hans)."""
    from django.test import Client

    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture(scope="module")
def provider():
    server = OidcTestProvider().start()
    yield server
    server.stop()


@pytest.fixture
def idp(provider, settings, db):
    provider.reset()
    provider.user = dict(ALICE)
    provider.redirect_uris = [settings.BASE_URL + "/oidc/callback/"]
    settings.ECONTRACT_OIDC_ISSUER = provider.issuer
    settings.ECONTRACT_OIDC_CLIENT_ID = CLIENT_ID
    settings.ECONTRACT_OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.ECONTRACT_OIDC_LABEL = "Test eID"
    settings.ECONTRACT_OIDC_NAME_CLAIM = "name"
    settings.ECONTRACT_OIDC_EMAIL_CLAIM = "email"
    settings.ECONTRACT_OIDC_ID_NUMBER_CLAIM = ""
    settings.ECONTRACT_OIDC_ID_TYPE = "cn_resident"
    settings.ECONTRACT_OIDC_ASSURANCE_LEVEL = "L3"
    settings.ECONTRACT_OIDC_LOGIN = True
    return provider


def _to_provider(client, idp, start="/oidc/login/"):
    """Our start view redirects to the provider, which answers with a redirect to our callback."""
    response = client.post(start)
    assert response.status_code == 302, response.content[:500]
    authorization_url = response["Location"]
    assert authorization_url.startswith(idp.issuer + "/authorize?")
    status, location = idp.authorize(authorization_url)
    assert status == 302, location
    return authorization_url, location


def _callback(client, location, **override):
    params = query_of(location)
    params.update(override)
    assert urlsplit(location).path == "/oidc/callback/"
    return client.get("/oidc/callback/", params)


def _logged_in_as(client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def _events(user, kind):
    return Event.objects.filter(subject_id=str(user.pk), kind=kind)


# --- login --------------------------------------------------------------------------------------------


def test_login_button_shown_only_when_configured(client, idp, settings):
    page = client.get("/login/").content.decode()
    assert "Log in with Test eID" in page
    settings.ECONTRACT_OIDC_ISSUER = ""
    assert "Log in with Test eID" not in client.get("/login/").content.decode()
    assert client.post("/oidc/login/").status_code == 404


def test_login_creates_an_account_for_a_new_verified_email(client, idp):
    _, location = _to_provider(client, idp)
    response = _callback(client, location)
    assert response.status_code == 302
    user = _logged_in_as(client)
    assert user is not None and user.email == "li.si@example.test"
    assert user.email_verified_at is not None
    assert not user.has_usable_password()  # she logs in through the provider (or sets one by reset)
    link = IdentityVerification.objects.get(user=user, method="oidc")
    assert (link.status, link.provider, link.provider_reference) == ("verified", idp.issuer, "alice-0001")
    assert link.assurance_level == "L3" and link.name == "李四 Li Si"
    assert _events(user, "registered").exists() and _events(user, "oidc_linked").exists()


def test_login_again_finds_the_linked_account_by_issuer_and_subject(client, idp):
    _callback(client, _to_provider(client, idp)[1])
    first = _logged_in_as(client)
    client.post("/logout/")
    # the provider's email changed since: the subject, not the email, says who she is
    idp.user["email"] = "new.address@example.test"
    response = _callback(client, _to_provider(client, idp)[1])
    assert response.status_code == 302
    assert _logged_in_as(client) == first
    assert User.objects.count() == 1
    assert _events(first, "oidc_login").count() == 1


def test_a_linked_account_with_a_second_factor_is_asked_for_it(client, idp):
    """The provider proves the first factor only (web.mfa): an account with a TOTP app is not yet in."""
    import pyotp

    from econtract.identity import factors

    _callback(client, _to_provider(client, idp)[1])
    alice = _logged_in_as(client)
    enrolment = factors.begin_totp_enrolment(alice)
    factors.confirm_totp_enrolment(alice, pyotp.TOTP(enrolment.secret).now())
    client.post("/logout/")
    response = _callback(client, _to_provider(client, idp)[1])
    assert response.status_code == 302 and response["Location"] == "/login/factor/"
    assert _logged_in_as(client) is None


def test_a_deactivated_account_is_not_entered_by_its_link(client, idp):
    _callback(client, _to_provider(client, idp)[1])
    alice = _logged_in_as(client)
    client.post("/logout/")
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = _callback(client, _to_provider(client, idp)[1])
    assert response.status_code == 403 and _logged_in_as(client) is None


def test_an_email_claim_alone_never_opens_an_existing_account(client, idp, make_user):
    bob = make_user("li.si@example.test", "李四 Li Si")  # same verified email at the provider
    response = _callback(client, _to_provider(client, idp)[1])
    assert response.status_code == 403
    assert "already uses this email address" in response.content.decode()
    assert _logged_in_as(client) is None
    assert not IdentityVerification.objects.filter(user=bob, method="oidc").exists()
    assert _events(bob, "oidc_refused").exists()


def test_an_unverified_email_opens_no_account(client, idp):
    idp.user["email_verified"] = False
    response = _callback(client, _to_provider(client, idp)[1])
    assert response.status_code == 403
    assert _logged_in_as(client) is None and not User.objects.exists()


def test_a_logged_in_user_links_the_provider_after_confirming(client, idp, make_user):
    bob = make_user("bob@example.test", "李四 Li Si")
    client.force_login(bob)
    response = _callback(client, _to_provider(client, idp)[1])
    assert response.status_code == 302 and response["Location"] == "/oidc/link/"
    assert not IdentityVerification.objects.filter(user=bob, method="oidc").exists()  # not before confirming
    page = client.get("/oidc/link/")
    assert page.status_code == 200 and "bob@example.test" in page.content.decode()
    assert client.post("/oidc/link/", {"confirm": "yes"}).status_code == 302
    assert oidc.linked_user(idp.issuer, "alice-0001") == bob
    bob.refresh_from_db()
    assert bob.assurance_level == "L3"
    # and from now on she logs in with it
    client.post("/logout/")
    _callback(client, _to_provider(client, idp)[1])
    assert _logged_in_as(client) == bob


def test_declining_the_link_links_nothing(client, idp, make_user):
    bob = make_user("bob@example.test")
    client.force_login(bob)
    _callback(client, _to_provider(client, idp)[1])
    client.post("/oidc/link/", {"confirm": "no"})
    assert oidc.linked_user(idp.issuer, "alice-0001") is None
    assert client.get("/oidc/link/").status_code == 400  # the pending link is gone


def test_a_subject_linked_to_one_account_cannot_be_linked_to_another(client, idp, make_user):
    _callback(client, _to_provider(client, idp)[1])
    alice = _logged_in_as(client)
    client.post("/logout/")
    carol = make_user("carol@example.test")
    client.force_login(carol)
    response = _callback(client, _to_provider(client, idp, start="/oidc/verify/")[1])
    assert response.status_code == 400
    assert oidc.linked_user(idp.issuer, "alice-0001") == alice
    assert not IdentityVerification.objects.filter(user=carol, method="oidc").exists()


# --- verification -------------------------------------------------------------------------------------


def test_verification_gives_the_configured_level_with_the_mapped_name(client, idp, settings, make_user):
    settings.ECONTRACT_OIDC_NAME_CLAIM = "legal_name"
    settings.ECONTRACT_OIDC_ID_NUMBER_CLAIM = "cn_id"
    idp.user.update(legal_name="张三", cn_id="11010519491231002x", name="Nickname")
    dave = make_user("dave@example.test", "Dave", identity=None)
    client.force_login(dave)
    assert "Verify with Test eID" in client.get("/profile/identity/").content.decode()
    response = _callback(client, _to_provider(client, idp, start="/oidc/verify/")[1])
    assert response.status_code == 302
    row = IdentityVerification.objects.get(user=dave, method="oidc")
    assert (row.status, row.assurance_level, row.name) == ("verified", "L3", "张三")
    assert (row.provider, row.provider_reference) == (idp.issuer, "alice-0001")
    assert row.id_type == "cn_resident" and row.id_number_masked == "110***********002X"
    dave.refresh_from_db()
    assert dave.assurance_level == "L3" and dave.full_name == "张三"
    assert Event.objects.filter(subject_id=str(row.pk), kind="identity_verified").exists()


def test_the_level_is_a_setting(client, idp, settings, make_user):
    settings.ECONTRACT_OIDC_ASSURANCE_LEVEL = "L2"
    erin = make_user("erin@example.test", identity=None)
    client.force_login(erin)
    _callback(client, _to_provider(client, idp, start="/oidc/verify/")[1])
    assert IdentityVerification.objects.get(user=erin, method="oidc").assurance_level == "L2"


def test_a_token_without_the_name_claim_is_refused_with_the_reason(client, idp, make_user):
    del idp.user["name"]
    frank = make_user("frank@example.test", identity=None)
    client.force_login(frank)
    response = _callback(client, _to_provider(client, idp, start="/oidc/verify/")[1])
    assert response.status_code == 400
    assert "gave no name" in response.content.decode()
    assert not IdentityVerification.objects.filter(user=frank, status="verified").exists()
    assert _events(frank, "oidc_refused").exists()


def test_a_malformed_id_number_claim_is_refused(client, idp, settings, make_user):
    settings.ECONTRACT_OIDC_ID_NUMBER_CLAIM = "cn_id"
    idp.user["cn_id"] = "110105194912310021"  # wrong check character
    gina = make_user("gina@example.test", identity=None)
    client.force_login(gina)
    response = _callback(client, _to_provider(client, idp, start="/oidc/verify/")[1])
    assert response.status_code == 400 and "ID number" in response.content.decode()
    assert not IdentityVerification.objects.filter(user=gina, method="oidc").exists()


# --- PKCE, state, nonce, signature -------------------------------------------------------------------


def test_our_client_always_sends_an_s256_challenge_of_its_verifier(client, idp):
    _callback(client, _to_provider(client, idp)[1])
    [authorize] = idp.authorize_requests
    [token] = idp.token_requests
    assert authorize["code_challenge_method"] == "S256"
    assert "nonce" in authorize and "state" in authorize
    assert authorize["code_challenge"] == create_s256_code_challenge(token["code_verifier"])
    assert len(token["code_verifier"]) >= 43


def test_the_provider_refuses_a_wrong_code_verifier(client, idp):
    """The provider really checks PKCE: a stolen code is worth nothing without the verifier."""
    _, location = _to_provider(client, idp)
    code = query_of(location)["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": idp.redirect_uris[0]}
    status, answer = idp.token_request({**form, "code_verifier": "W" * 64})
    assert (status, answer["error"]) == (400, "invalid_grant")
    status, answer = idp.token_request(form)  # no verifier at all
    assert (status, answer["error"]) == (400, "invalid_request")
    # our own callback, with the verifier only our session holds, still redeems the same code
    assert _callback(client, location).status_code == 302
    assert _logged_in_as(client) is not None


def test_a_state_mismatch_is_refused_before_the_code_is_redeemed(client, idp):
    _, location = _to_provider(client, idp)
    response = _callback(client, location, state="forged-state")
    assert response.status_code == 400 and "(state)" in response.content.decode()
    assert idp.token_requests == []
    assert _logged_in_as(client) is None


def test_a_callback_is_used_once(client, idp):
    _, location = _to_provider(client, idp)
    assert _callback(client, location).status_code == 302
    client.post("/logout/")
    assert _callback(client, location).status_code == 400


def test_a_nonce_mismatch_is_refused(client, idp):
    idp.nonce_override = "a-nonce-from-another-sign-in"
    response = _callback(client, _to_provider(client, idp)[1])
    assert response.status_code == 400 and "nonce" in response.content.decode()
    assert _logged_in_as(client) is None and not User.objects.exists()


def test_an_id_token_signed_with_another_key_is_refused(client, idp):
    # same key id as the provider's: only the signature tells them apart
    idp.forge_with = RSAKey.generate_key(2048, parameters={"kid": "provider-key", "alg": "RS256"})
    response = _callback(client, _to_provider(client, idp)[1])
    assert response.status_code == 400 and "signature" in response.content.decode()
    assert _logged_in_as(client) is None and not User.objects.exists()


def test_an_id_token_for_another_client_is_refused(client, idp):
    idp.audience_override = "some-other-client"
    response = _callback(client, _to_provider(client, idp)[1])
    assert response.status_code == 400 and _logged_in_as(client) is None


def test_an_error_from_the_provider_is_shown_not_trusted(client, idp):
    _, location = _to_provider(client, idp)
    params = query_of(location)
    response = client.get("/oidc/callback/", {"state": params["state"], "error": "access_denied"})
    assert response.status_code == 400 and "access_denied" in response.content.decode()


# --- configuration ------------------------------------------------------------------------------------


def test_plain_http_is_refused_except_to_this_machine(settings):
    settings.ECONTRACT_OIDC_CLIENT_ID = CLIENT_ID
    settings.ECONTRACT_OIDC_ISSUER = "http://idp.example.org"
    with pytest.raises(ImproperlyConfigured):
        oidc.config()
    settings.ECONTRACT_OIDC_ISSUER = "https://idp.example.org"
    assert oidc.config() is not None
    settings.ECONTRACT_OIDC_ISSUER = "http://localhost:9000"
    assert oidc.config() is not None
    # and found at start by the system check, not at the first login
    from econtract.identity.checks import oidc_provider

    settings.ECONTRACT_OIDC_ISSUER = "http://idp.example.org"
    assert [message.id for message in oidc_provider()] == ["identity.E003"]


# --- bounded answers, and a log with nothing from the provider ---------------------------------------


def test_an_oversized_token_response_is_refused(client, idp):
    """The token endpoint's answer is read up to 64 KiB, like the discovery document and the JWKS."""
    idp.token_extra = {"padding": "x" * (oidc.MAX_DOCUMENT_BYTES + 1)}
    response = _callback(client, _to_provider(client, idp)[1])
    assert response.status_code == 400
    assert "larger than 64 KiB" in response.content.decode()
    [(status, _answer)] = idp.token_responses  # the provider did answer, with a valid token
    assert status == 200
    assert _logged_in_as(client) is None and not User.objects.exists()


def test_an_oversized_discovery_document_is_refused_before_any_redirect(client, idp):
    idp.discovery_extra = {"padding": "x" * (oidc.MAX_DOCUMENT_BYTES + 1)}
    response = client.post("/oidc/login/")
    assert response.status_code == 503
    assert "larger than 64 KiB" in response.content.decode()
    assert idp.authorize_requests == []


def test_a_token_response_just_under_the_bound_is_accepted(client, idp):
    idp.token_extra = {"padding": "x" * (oidc.MAX_DOCUMENT_BYTES - 4096)}
    assert _callback(client, _to_provider(client, idp)[1]).status_code == 302
    assert _logged_in_as(client) is not None


def _provider_values(idp, location):
    """Everything the provider sent that must never reach the log: code, tokens, claim values."""
    values = {query_of(location)["code"], *ALICE_VALUES}
    for _status, answer in idp.token_responses:
        values.update(str(answer[key]) for key in ("id_token", "access_token") if key in answer)
    return values


ALICE_VALUES = (ALICE["sub"], ALICE["name"], ALICE["email"])


def test_a_refused_anonymous_callback_logs_no_token_code_or_claim(client, idp, caplog):
    # econtract's own log (the provider in this process logs what it issues, at DEBUG, under authlib)
    caplog.set_level("DEBUG", logger="econtract")
    caplog.set_level("DEBUG", logger="django")
    # 1. the ID token is redeemed, then refused (nonce): the code, the tokens and the claims were here
    idp.nonce_override = "a-nonce-from-another-sign-in"
    location = _to_provider(client, idp)[1]
    assert _callback(client, location).status_code == 400
    leaked = _provider_values(idp, location)
    assert len(leaked) >= 5
    # 2. an answer the login refuses (no verified email): the claims were read
    idp.reset()
    idp.user = {**ALICE, "email_verified": False}
    location = _to_provider(client, idp)[1]
    assert _callback(client, location).status_code == 403
    leaked |= _provider_values(idp, location)
    # 3. the provider's error, with a description quoting what it was sent
    location = _to_provider(client, idp)[1]
    state = query_of(location)["state"]
    leaked.add("description-quoting-code-XYZ123")
    client.get(
        "/oidc/callback/",
        {"state": state, "error": "access_denied", "error_description": "description-quoting-code-XYZ123"},
    )
    refusals = [r for r in caplog.records if "anonymous visitor" in r.getMessage()]
    assert len(refusals) == 3, [r.getMessage() for r in caplog.records]
    assert "id token claims" in refusals[0].getMessage()
    assert "email_unverified" in refusals[1].getMessage()
    assert "authorization refused" in refusals[2].getMessage()
    ours = [r for r in caplog.records if r.name.startswith(("econtract", "django"))]
    text = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in ours)
    for value in leaked:
        assert value not in text, value
    assert not Event.objects.filter(kind="oidc_refused").exists()  # no account: a log line only
