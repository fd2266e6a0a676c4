"""Included at the site root by econtract.urls, so the paths here are complete (see profile.PATH_*)."""

from django.urls import path, re_path

from econtract.pki import views

app_name = "pki"

urlpatterns = [
    path("pki/root.pem", views.root_pem, name="root-pem"),
    path("pki/root.der", views.root_der, name="root-der"),
    path("pki/issuing.der", views.issuing_der, name="issuing-der"),
    path("pki/crl", views.crl, name="crl"),
    path("pki/root.crl", views.root_crl, name="root-crl"),
    path("pki/ocsp", views.ocsp_post, name="ocsp"),
    path("pki/ocsp/", views.ocsp_post),  # some clients POST to the URL with a trailing slash
    re_path(r"^pki/ocsp/(?P<encoded>.+)$", views.ocsp_get, name="ocsp-get"),
    path("tsa", views.tsa, name="tsa"),
]
