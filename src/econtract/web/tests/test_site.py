"""The site's frame: styled error pages in both languages, a favicon, one date format per language."""

from __future__ import annotations

import json
import re

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views.defaults import server_error

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.mark.django_db
@pytest.mark.parametrize(("headers", "title"), [(EN, "Page not found"), (ZH, "页面不存在")])
def test_an_unknown_address_gets_the_styled_404(client, headers, title):
    response = client.get("/no/such/page/", **headers)
    html = response.content.decode()
    assert response.status_code == 404
    assert title in html and 'class="card error-page"' in html
    assert "/static/web/app.css" in html


@pytest.mark.django_db
@pytest.mark.parametrize(("headers", "title"), [(EN, "Not allowed"), (ZH, "无权操作")])
def test_a_refused_action_gets_the_styled_403(client, headers, title):
    response = client.post(reverse("web:sign_code", args=["not-a-real-token"]), **headers)
    assert response.status_code == 403
    assert title in response.content.decode()


@pytest.mark.parametrize(("language", "title"), [("en", "Something went wrong"), ("zh-hans", "出错了")])
def test_the_500_page_renders_without_the_database(django_db_blocker, language, title):
    with translation.override(language), django_db_blocker.block():
        response = server_error(RequestFactory().get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert title in html and "/static/web/app.css" in html


@pytest.mark.django_db
def test_the_favicon_is_served_and_linked(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/vnd.microsoft.icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO directory with one image
    html = client.get(reverse("web:login")).content.decode()
    svg = re.search(r'<link rel="icon" href="([^"]+\.svg)"', html).group(1)
    assert client.get(svg).status_code == 200


ZH_DATETIME = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}")
EN_DATETIME = re.compile(r"\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}, \d{2}:\d{2}\b")
OTHER_STYLES = re.compile(
    r">\s*\d{4}-\d{2}-\d{2} \d{2}:\d{2}|\d{1,2}/\d{1,2}/\d{4}|\d{4}/\d{1,2}/\d{1,2}|[ap]\.m\."
)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("headers", "style"), [(EN, EN_DATETIME), (ZH, ZH_DATETIME)])
def test_every_page_writes_times_in_one_format_per_language(client, sender, sent, headers, style):
    client.force_login(sender)
    for url in (reverse("web:dashboard"), reverse("web:envelope_detail", args=[sent.pk])):
        html = client.get(url, **headers).content.decode()
        assert style.search(html), url
        assert not OTHER_STYLES.search(html), (url, OTHER_STYLES.search(html).group(0))


@pytest.mark.django_db(transaction=True)
def test_the_saved_message_counts_parties_and_boxes_in_singular_and_plural(client, sender, draft):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])

    def save(count: int) -> str:
        parties = [{"name": f"P{i}", "email": f"p{i}@example.test", "order": 1} for i in range(count)]
        fields = [
            {"party": i, "page": 1, "x": 60, "y": 80 + 70 * i, "width": 180, "height": 60}
            for i in range(count)
        ]
        response = client.post(
            url, {"payload": json.dumps({"parties": parties, "fields": fields})}, follow=True, **EN
        )
        return " ".join(str(m) for m in response.context["messages"])

    assert "Saved: 1 party, 1 signature box." in save(1)
    assert "Saved: 2 parties, 2 signature boxes." in save(2)
