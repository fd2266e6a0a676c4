from django.http import HttpResponse
from django.urls import path

app_name = "web"


def dashboard(request):
    return HttpResponse("econtract")


urlpatterns = [path("", dashboard, name="dashboard"), path("login/", dashboard, name="login")]
