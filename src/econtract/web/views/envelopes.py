"""The sender's pages: the list, a new envelope, the field editor, sending, the detail and audit trail."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from econtract.accounts.permissions import Action
from econtract.accounts.services import primary_organization
from econtract.documents.errors import UnsafePdf
from econtract.evidence.errors import EvidenceError
from econtract.evidence.issuance import issue_package, issue_report
from econtract.evidence.models import Event
from econtract.notifications.models import EmailDelivery
from econtract.signing import services
from econtract.signing.models import Envelope, Party
from econtract.web import editor
from econtract.web.errors import DOMAIN_ERRORS, error_message
from econtract.web.events import describe_event
from econtract.web.forms import EnvelopeForm, VoidForm
from econtract.web.mailstatus import undelivered_mail
from econtract.web.pageimages import page_png
from econtract.web.sending import check_send
from econtract.web.views.common import manages, request_context, visible_envelope

DASHBOARD_LIMIT = 200


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    envelopes = (
        Envelope.objects.visible_to(request.user).select_related("organization").prefetch_related("parties")
    )
    status = request.GET.get("status", "")
    if status in Envelope.Status.values:
        envelopes = envelopes.filter(status=status)
    user = request.user
    rows = []
    for envelope in envelopes[:DASHBOARD_LIMIT]:
        parties = list(envelope.parties.all())
        mine = [p for p in parties if services.user_may_act_as(p, user)]
        rows.append(
            {
                "envelope": envelope,
                "parties": parties,
                "signed": sum(1 for p in parties if p.status == Party.Status.SIGNED),
                "awaiting_me": next(
                    (
                        p
                        for p in mine
                        if p.status == Party.Status.READY and envelope.status == Envelope.Status.SENT
                    ),
                    None,
                ),
            }
        )
    return render(
        request,
        "web/dashboard.html",
        {"rows": rows, "status": status, "statuses": Envelope.Status.choices},
    )


@login_required
@require_POST
def envelope_remind(request: HttpRequest, pk: object, party_id: object) -> HttpResponse:
    envelope = visible_envelope(request, pk)
    try:
        party = services.remind(envelope, party_id, request.user, request_context(request))
    except Party.DoesNotExist as exc:
        raise Http404 from exc
    except DOMAIN_ERRORS as exc:
        messages.error(request, error_message(exc))
    else:
        mail = services.turn_notifications(envelope).get(str(party.id))
        if mail is not None and mail.status == EmailDelivery.Status.FAILED:
            # the first attempt ran when the reminder committed; the page's alert gives the reason
            messages.error(
                request,
                _("The new signing link to %(email)s could not be delivered.") % {"email": party.email},
            )
        else:
            messages.success(
                request, _("A new signing link was emailed to %(email)s.") % {"email": party.email}
            )
    return redirect("web:envelope_detail", pk=envelope.pk)


@login_required
@require_POST
def envelope_sign_now(request: HttpRequest, pk: object, party_id: object) -> HttpResponse:
    """A logged-in party opens her signing page without the emailed link."""
    envelope = visible_envelope(request, pk)
    try:
        token = services.open_signing_link(envelope.pk, party_id, request.user, request_context(request))
    except Party.DoesNotExist as exc:
        raise Http404 from exc
    except DOMAIN_ERRORS as exc:
        messages.error(request, error_message(exc))
        return redirect("web:dashboard")
    return redirect("web:sign", token=token)


@login_required
@require_http_methods(["GET", "POST"])
def envelope_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        form = EnvelopeForm(request.POST, request.FILES, user=user)
        if form.is_valid():
            upload = form.cleaned_data["document"]
            try:
                envelope = services.create_envelope(
                    organization=form.cleaned_data["organization"],
                    created_by=user,
                    title=form.cleaned_data["title"],
                    pdf=upload.read(),
                    deadline=form.cleaned_data["deadline"],
                    amount=form.cleaned_data["amount"],
                    currency=form.cleaned_data["currency"],
                    context=request_context(request),
                )
            except UnsafePdf as exc:
                form.add_error("document", error_message(exc))
            except DOMAIN_ERRORS as exc:
                form.add_error(None, error_message(exc))
            else:
                messages.success(
                    request, _("The document was uploaded. Now add the parties and their signature boxes.")
                )
                return redirect("web:envelope_edit", pk=envelope.pk)
    else:
        form = EnvelopeForm(user=user, initial={"organization": primary_organization(user)})
    return render(request, "web/envelope_new.html", {"form": form})


def _managed_envelope(request: HttpRequest, pk: object, action: Action) -> Envelope:
    """Not visible: 404; visible as a party but not hers to manage: 403."""
    envelope = visible_envelope(request, pk)
    if not manages(envelope, request.user, action):
        raise PermissionDenied
    return envelope


@login_required
@require_http_methods(["GET", "POST"])
def envelope_edit(request: HttpRequest, pk: object) -> HttpResponse:
    envelope = _managed_envelope(request, pk, Action.EDIT)
    if envelope.status != Envelope.Status.DRAFT:
        messages.info(request, _("Only a draft can be edited."))
        return redirect("web:envelope_detail", pk=envelope.pk)
    state = editor.editor_state(envelope)
    status = 200
    if request.method == "POST":
        raw = request.POST.get("payload", "")
        try:
            parties, fields = editor.parse_payload(raw)
            services.replace_recipients(
                envelope,
                parties=parties,
                fields=editor.to_user_fields(envelope, fields),
                user=request.user,
                context=request_context(request),
            )
        except editor.EditorPayloadError as exc:
            messages.error(request, _("The editor sent something unexpected: %(detail)s") % {"detail": exc})
            status = 400
        except DOMAIN_ERRORS as exc:
            messages.error(request, error_message(exc))
            state = editor.state_from_payload(envelope, raw) or state
            status = 400
        else:
            messages.success(
                request,
                _("Saved: %(parties)s, %(fields)s.")
                % {
                    "parties": ngettext("%(count)d party", "%(count)d parties", len(parties))
                    % {"count": len(parties)},
                    "fields": ngettext("%(count)d signature box", "%(count)d signature boxes", len(fields))
                    % {"count": len(fields)},
                },
            )
            return redirect("web:envelope_edit", pk=envelope.pk)
    pages = [
        {**page, "src": reverse("web:page_image", args=[envelope.pk, 0, page["number"]])}
        for page in state["pages"]
    ]
    return render(
        request,
        "web/envelope_edit.html",
        {
            "envelope": envelope,
            "state": state,
            "pages": pages,
            "saved_parties": envelope.parties.count(),
            "send_check": check_send(envelope),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def envelope_send(request: HttpRequest, pk: object) -> HttpResponse:
    """GET: the confirmation step (who is emailed in which order, what looks wrong); POST: send."""
    envelope = _managed_envelope(request, pk, Action.SEND)
    if request.method == "GET":
        # Also for an envelope sent meanwhile (another tab, the back button): it says why not.
        return render(
            request, "web/envelope_send.html", {"envelope": envelope, "check": check_send(envelope)}
        )
    try:
        services.send_envelope(envelope, request.user, request_context(request))
    except DOMAIN_ERRORS as exc:
        messages.error(request, error_message(exc))
        if envelope.status == Envelope.Status.DRAFT:
            return redirect("web:envelope_edit", pk=envelope.pk)
    else:
        messages.success(request, _("Sent. The first parties have been emailed their signing links."))
    return redirect("web:envelope_detail", pk=envelope.pk)


@login_required
@require_POST
def envelope_void(request: HttpRequest, pk: object) -> HttpResponse:
    envelope = _managed_envelope(request, pk, Action.VOID)
    form = VoidForm(request.POST)
    if form.is_valid():
        try:
            services.void(
                envelope, request.user, reason=form.cleaned_data["reason"], context=request_context(request)
            )
        except DOMAIN_ERRORS as exc:
            messages.error(request, error_message(exc))
        else:
            messages.success(request, _("The envelope was voided."))
    return redirect("web:envelope_detail", pk=envelope.pk)


@login_required
@require_GET
def envelope_detail(request: HttpRequest, pk: object) -> HttpResponse:
    envelope = visible_envelope(request, pk)
    member = manages(envelope, request.user)
    parties = list(envelope.parties.all())
    events = [
        describe_event(event, parties)
        for event in Event.objects.for_subject(envelope).select_related("actor")
    ]
    my_parties = [p for p in parties if services.user_may_act_as(p, request.user)]
    current = envelope.current_document()
    overlays = editor.field_overlays(envelope, envelope.fields.select_related("party"))
    pages = [
        {
            **page,
            "src": reverse("web:page_image", args=[envelope.pk, current.version, page["number"]]),
            "fields": overlays.get(page["number"], []),
        }
        for page in editor.page_dimensions(envelope)
    ]
    return render(
        request,
        "web/envelope_detail.html",
        {
            "pages": pages,
            "send_check": check_send(envelope)
            if member and envelope.status == Envelope.Status.DRAFT
            else None,
            "envelope": envelope,
            "parties": parties,
            "events": events,
            "is_member": member,
            "can_void": member and not envelope.is_final,
            "my_parties": my_parties,
            "undelivered_mail": undelivered_mail(envelope, parties) if member else [],
            "current": current,
            "field_count": envelope.fields.count(),
            "void_form": VoidForm(),
        },
    )


@login_required
@require_GET
def envelope_download(request: HttpRequest, pk: object) -> FileResponse:
    envelope = visible_envelope(request, pk)
    revision = services.document_for_download(envelope, request_context(request))
    suffix = "signed" if envelope.status == Envelope.Status.COMPLETED else f"v{revision.version}"
    filename = f"{envelope.title[:80]}-{suffix}.pdf".replace("/", "_").replace("\\", "_")
    response = FileResponse(
        revision.file.open("rb"), as_attachment=True, filename=filename, content_type="application/pdf"
    )
    response["X-Document-SHA256"] = revision.sha256
    return response


@login_required
@require_GET
def envelope_evidence(request: HttpRequest, pk: object, what: str) -> HttpResponse:
    """The evidence report (PDF) or package (zip), as the API gives them (evidence.issuance)."""
    envelope = visible_envelope(request, pk)
    issue = {"report": issue_report, "package": issue_package}[what]
    try:
        issued = issue(envelope, str(request.user.pk), request_context(request))
    except EvidenceError as exc:
        messages.error(request, error_message(exc))
        return redirect("web:envelope_detail", pk=envelope.pk)
    response = HttpResponse(issued.content, content_type=issued.content_type)
    response["Content-Disposition"] = f'attachment; filename="{issued.filename}"'
    response["X-Evidence-SHA256"] = issued.sha256
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def page_image(request: HttpRequest, pk: object, version: int, page: int) -> HttpResponse:
    envelope = visible_envelope(request, pk)
    revision = envelope.revisions.filter(version=version).first()
    if revision is None or not 1 <= page <= envelope.page_count:
        raise Http404
    response = HttpResponse(page_png(revision, page), content_type="image/png")
    # A revision never changes, so neither does its picture.
    response["Cache-Control"] = "private, max-age=86400, immutable"
    return response
