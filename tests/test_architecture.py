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
    "httpx2": {"fetch"},
    "feedparser": {"parse"},
    "selectolax": {"parse"},
    "publicsuffixlist": {"parse"},
    "ahocorasick": {"match"},
    "opencc": {"fold"},
    "idna": {"mailaddress"},  # IDNA 2008 A-labels of an address's Unicode domain
    "sqlmodel": {"store"},
    "sqlalchemy": {"store", "migrate"},
    "alembic": {"migrate"},
    "apscheduler": {"scheduler"},
    "jinja2": {"digest", "page"},  # the email and the web page
    "markupsafe": {"page"},
    "apprise": {"notify"},
    "requests": {"alerthttp"},  # under Apprise: the alert channels' redirects and answers
    "fastapi": {
        "web",
        "signin",
        "webexport",
        "websilences",
        "webentries",
        "webexplain",
        "webschema",
    },  # routes
    "itsdangerous": {"session"},  # the session cookie's signature
    "starlette": {"web", "websilences"},  # FastAPI's foundation: the HTTP error every router raises
    "uvicorn": {"server"},
    "prometheus_client": {"metrics"},
    "pydantic": {"settings", "web", "webmodels"},
    "pydantic_core": {"webmodels"},  # pydantic's: the error of an integer not in ASCII digits
    "pydantic_settings": {"settings"},
    "dotenv": {"settings"},  # .env read again to warn about unknown MONITOR_* names
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


# Modules, and the modules of packages (monitor/cli/): a package is one home. The migrations are
# Alembic's scripts, run by monitor.migrate.
MODULES = sorted(
    str(p.relative_to(ROOT))
    for p in (ROOT / "monitor").rglob("*.py")
    if p.relative_to(ROOT / "monitor").parts[0] != "migrations"
)


@pytest.mark.parametrize("path", MODULES)
def test_each_library_is_imported_only_where_it_belongs(path: str) -> None:
    module = path.removeprefix("monitor/").removesuffix(".py").split("/")[0]
    for library in third_party_imports(path):
        assert library in WHERE, f"{path} imports {library}, which has no home in WHERE"
        assert module in WHERE[library], f"{library} belongs in {sorted(WHERE[library])}"


MAX_MODULE_LINES = 600  # a module a reader takes in at one sitting (issue 13)


def test_no_module_is_longer_than_one_sitting() -> None:
    lengths = {path: len((ROOT / path).read_text().splitlines()) for path in MODULES}
    assert len(lengths) > 40  # the packages' modules are counted too
    assert {p: n for p, n in lengths.items() if n > MAX_MODULE_LINES} == {}


def test_every_module_has_a_place_in_the_layers() -> None:
    """import-linter checks only the modules its layers name: a new module left out of them
    could import anything."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (stages,) = [
        c for c in config["contracts"] if c["name"].startswith("pipeline stages flow one way")
    ]
    named = {m.strip() for layer in stages["layers"] for m in layer.split("|")}
    top = {
        "monitor." + path.removeprefix("monitor/").removesuffix(".py").split("/")[0]
        for path in MODULES
        if path.count("/") == 1 or path.endswith("/__init__.py")
    } - {"monitor.__init__", "monitor.__main__"}
    assert top - named == set()
