"""In-app notices: the verbs. A notice is written inside the caller's transaction, like a queued mail,
so a rolled-back step leaves none; a user reads and marks only her own (``Notice.objects.for_user``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.utils import timezone

from econtract.notifications.models import Notice
from econtract.textinput import one_line

MAX_TITLE = 400
MAX_BODY = 4000


def notify(
    user: Any,
    kind: str,
    title: str,
    body: str = "",
    *,
    url: str = "",
    about: models.Model | None = None,
    organization: Any = None,
    now: datetime | None = None,
) -> Notice:
    """One notice to ``user``; ``url`` is a path on this site, ``about`` the object it concerns."""
    return Notice.objects.create(
        user=user,
        organization=organization,
        kind=kind,
        title=one_line(title)[:MAX_TITLE],  # composed by us from checked text; a title is one line
        body=body[:MAX_BODY],
        url=url,
        about_type=about._meta.label_lower if about is not None else "",
        about_id=str(about.pk) if about is not None else "",
        created_at=now or timezone.now(),
    )


def notices_for(user: Any) -> models.QuerySet[Notice]:
    """Every notice of ``user``, newest first."""
    return Notice.objects.for_user(user).order_by("-created_at", "-id")


def unread_for(user: Any) -> models.QuerySet[Notice]:
    """Her notices not yet marked read, newest first."""
    return notices_for(user).filter(read_at__isnull=True)


def mark_read(user: Any, notice_id: Any, *, now: datetime | None = None) -> Notice:
    """Marks her notice read (again: keeps the first time). Notice.DoesNotExist for anyone else's."""
    notice = Notice.objects.for_user(user).get(pk=notice_id)
    if notice.read_at is None:
        when = now or timezone.now()
        # conditional: two tabs marking at once keep one time
        Notice.objects.filter(pk=notice.pk, read_at__isnull=True).update(read_at=when)
        notice.refresh_from_db(fields=["read_at"])
    return notice
