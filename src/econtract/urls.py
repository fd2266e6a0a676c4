from django.contrib import admin
from django.urls import include, path

from econtract.api.urls import api
from econtract.identity.views import sandbox_idp, sandbox_idp_face

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("sandbox/idp/", sandbox_idp, name="sandbox-idp"),
    path("sandbox/idp/face", sandbox_idp_face, name="sandbox-idp-face"),
    path("", include("econtract.pki.urls")),
    path("", include("econtract.evidence.urls")),
    path("", include("econtract.web.urls")),
]
