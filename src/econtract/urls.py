from django.contrib import admin
from django.urls import include, path

from econtract.api.urls import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("econtract.pki.urls")),
    path("", include("econtract.web.urls")),
]
