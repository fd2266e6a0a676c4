from django.contrib import admin
from django.urls import include, path

from econtract.api.urls import api
from econtract.identity.views import sandbox_idp

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("sandbox/idp/", sandbox_idp, name="sandbox-idp"),
    path("", include("econtract.pki.urls")),
    path("", include("econtract.web.urls")),
]
