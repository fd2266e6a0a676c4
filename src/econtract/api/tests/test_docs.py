"""/api/docs works offline: Swagger UI and everything it loads are served by the platform itself."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_docs_page_references_only_local_assets_and_they_load(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "https://" not in html and "http://" not in html and "//cdn" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        loaded = client.get(asset)
        assert loaded.status_code == 200, asset
        assert b"".join(loaded.streaming_content if loaded.streaming else [loaded.content])


def test_the_docs_page_keeps_the_strict_content_security_policy(client):
    policy = client.get("/api/docs")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
