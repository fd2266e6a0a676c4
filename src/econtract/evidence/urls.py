from django.urls import path, re_path

from econtract.evidence import views

_INDEX = r"(?P<index>(?:x\d{3}/)*\d{3})"
_PARTIAL = r"(?:\.p/(?P<partial>\d{1,3}))?"

urlpatterns = [
    path("log/checkpoint", views.checkpoint, name="log-checkpoint"),
    path("log/vkey", views.vkey, name="log-vkey"),
    re_path(rf"^log/tile/entries/{_INDEX}{_PARTIAL}$", views.entry_bundle, name="log-entries"),
    re_path(rf"^log/tile/(?P<level>\d)/{_INDEX}{_PARTIAL}$", views.hash_tile, name="log-tile"),
]
