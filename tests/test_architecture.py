"""Each third-party library is imported in one place (or the few named here), so swapping it or
reading how it is used means reading one module."""

from __future__ import annotations

import ast
import sys

import pytest

from tests.conftest import ROOT

WHERE = {
    "click": {"cli"},
    "yaml": {"definitions"},
    "regex": {"definitions", "match"},  # definitions validates patterns, match runs them
    "httpx": {"fetch", "transport"},  # transport: a lean HTTP/1.1 transport for it
    "h11": {"transport"},
    "feedparser": {"parse"},
    "selectolax": {"parse"},
    "publicsuffixlist": {"parse"},
    "ahocorasick": {"match"},
    "opencc": {"fold"},
    "sqlmodel": {"store"},
    "sqlalchemy": {"store", "migrate"},
    "alembic": {"migrate"},
    "apscheduler": {"scheduler"},
    "jinja2": {"digest", "page"},  # the email and the web page
    "markupsafe": {"page"},
    "apprise": {"notify"},
    "fastapi": {"web"},
    "uvicorn": {"web"},
    "prometheus_client": {"metrics"},
    "pydantic": {"settings", "web", "webmodels"},
    "pydantic_settings": {"settings"},
}


def third_party_imports(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "monitor"}


MODULES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "monitor").glob("*.py"))


@pytest.mark.parametrize("path", MODULES)
def test_each_library_is_imported_only_where_it_belongs(path: str) -> None:
    module = path.removeprefix("monitor/").removesuffix(".py")
    for library in third_party_imports(path):
        assert library in WHERE, f"{path} imports {library}, which has no home in WHERE"
        assert module in WHERE[library], f"{library} belongs in {sorted(WHERE[library])}"
