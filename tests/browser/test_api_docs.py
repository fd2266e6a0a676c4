"""/api/docs in a real browser with no internet: Swagger UI draws every operation, nothing is blocked."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def offline_page(live_server, monkeypatch):
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    local = urlsplit(live_server.url).netloc
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context()
        outside: list[str] = []

        def only_local(route):
            if urlsplit(route.request.url).netloc == local or route.request.url.startswith("data:"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        page = context.new_page()
        page.set_default_timeout(15_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        yield live_server.url, page, outside, problems
        browser.close()


def test_swagger_ui_renders_every_operation_offline(offline_page):
    site, page, outside, problems = offline_page
    page.goto(site + "/api/docs")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 14
    assert outside == []
    assert problems == []  # no script error, no CSP violation
