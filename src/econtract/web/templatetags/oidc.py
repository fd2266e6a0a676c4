"""``{% oidc_provider as oidc %}``: the configured OpenID Connect provider's label and whether it logs in,
or None, so the login and identity pages offer its buttons without each view passing it."""

from __future__ import annotations

from django import template

from econtract.identity import oidc

register = template.Library()


@register.simple_tag
def oidc_provider() -> dict[str, object] | None:
    cfg = oidc.config()
    if cfg is None:
        return None
    return {"label": cfg.label, "login": cfg.login}
