"""Small helpers shared by the view modules."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme

from econtract.accounts.permissions import Action, may_manage_envelope
from econtract.evidence.services import RequestContext
from econtract.signing.models import Envelope


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def htmx_redirect(request: HttpRequest, url: str) -> HttpResponse:
    """A redirect that also works for an htmx request (which would otherwise swap the target page in)."""
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def request_context(request: HttpRequest) -> RequestContext:
    return RequestContext.from_request(request)


def visible_envelope(request: HttpRequest, pk: object) -> Envelope:
    """Every envelope a page shows is looked up through this scope: anything else is a 404."""
    return get_object_or_404(
        Envelope.objects.visible_to(request.user).select_related("organization", "created_by"), pk=pk
    )


def manages(envelope: Envelope, user: object, action: Action = Action.VIEW) -> bool:
    """Whether the page offers the sender's controls: the rule is accounts.permissions'."""
    return may_manage_envelope(user, envelope, action)


def safe_next(request: HttpRequest, candidate: str | None, default: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default
