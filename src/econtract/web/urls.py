"""The web UI, mounted at the site root."""

from django.urls import include, path

from econtract.web.views import assets, auth, envelopes, profile, recovery, signing, verify

app_name = "web"

urlpatterns = [
    path("", envelopes.dashboard, name="dashboard"),
    path("login/", auth.login_view, name="login"),
    path("login/link/", auth.login_link_request, name="login_link"),
    path("login/link/<str:token>", auth.login_link_use, name="login_link_use"),
    path("password/reset/", recovery.password_reset_request, name="password_reset"),
    path("password/reset/<str:uidb64>/<str:token>", recovery.password_reset_use, name="password_reset_use"),
    path("logout/", auth.logout_view, name="logout"),
    path("register/", auth.register_view, name="register"),
    path("envelopes/new/", envelopes.envelope_new, name="envelope_new"),
    path("envelopes/<uuid:pk>/", envelopes.envelope_detail, name="envelope_detail"),
    path("envelopes/<uuid:pk>/edit/", envelopes.envelope_edit, name="envelope_edit"),
    path("envelopes/<uuid:pk>/send/", envelopes.envelope_send, name="envelope_send"),
    path("envelopes/<uuid:pk>/void/", envelopes.envelope_void, name="envelope_void"),
    path(
        "envelopes/<uuid:pk>/parties/<uuid:party_id>/sign-now/",
        envelopes.envelope_sign_now,
        name="envelope_sign_now",
    ),
    path(
        "envelopes/<uuid:pk>/parties/<uuid:party_id>/remind/",
        envelopes.envelope_remind,
        name="envelope_remind",
    ),
    path("envelopes/<uuid:pk>/download/", envelopes.envelope_download, name="envelope_download"),
    path("envelopes/<uuid:pk>/pages/v<int:version>/<int:page>.png", envelopes.page_image, name="page_image"),
    path("sign/<str:token>", signing.sign_page, name="sign"),
    path("sign/<str:token>/pin", signing.sign_pin, name="sign_pin"),
    path("sign/<str:token>/code", signing.sign_code, name="sign_code"),
    path("sign/<str:token>/submit", signing.sign_submit, name="sign_submit"),
    path("sign/<str:token>/decline", signing.sign_decline, name="sign_decline"),
    path("profile/", profile.profile, name="profile"),
    path("profile/pin/", profile.profile_pin, name="profile_pin"),
    path("profile/api-keys/", profile.apikey_create, name="apikey_create"),
    path("profile/api-keys/<uuid:pk>/revoke/", profile.apikey_revoke, name="apikey_revoke"),
    path("verify/", verify.verify_page, name="verify_page"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("favicon.ico", assets.favicon, name="favicon"),
]
