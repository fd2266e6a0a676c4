"""Every schema the API documents has a name of its own: OpenAPI keeps one component per name, so two
models with the same name would document one endpoint with the other's fields."""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def test_no_two_api_models_share_a_name():
    import econtract.api.urls  # noqa: F401 - imports every router and its schemas

    modules_by_name: dict[str, set[str]] = defaultdict(set)
    for model in _subclasses(BaseModel):
        if model.__module__.startswith("econtract."):
            modules_by_name[model.__name__].add(model.__module__)
    assert {name: mods for name, mods in modules_by_name.items() if len(mods) > 1} == {}
