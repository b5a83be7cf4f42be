"""Schema migrations on SQLite and PostgreSQL: an empty database is brought to the models, an
older one is refused until `monitor db upgrade`, and concurrent start-ups upgrade once."""

from __future__ import annotations

import fnmatch
import shutil
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from monitor import migrate
from monitor.cli import main
from monitor.errors import StoreError
from monitor.store import (
    metadata,
    open_store,
    schema_differences,
    schema_status,
    upgrade,
)
from tests.conftest import ROOT

SECOND = '''"""A column for the test of an older schema."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.add_column(sa.Column("note", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.drop_column("note")
'''


@pytest.fixture
def newer_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], str]]:
    """Switches to the migrations of a later version (today's and a 0002); returns its head."""

    def switch() -> str:
        migrations = tmp_path / "migrations"
        shutil.copytree(
            migrate.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__")
        )
        (migrations / "versions" / "0002_note.py").write_text(SECOND)
        monkeypatch.setattr(migrate, "MIGRATIONS", migrations)
        migrate.head.cache_clear()
        return migrate.head()

    yield switch
    monkeypatch.undo()
    migrate.head.cache_clear()


def _sql(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def test_an_empty_database_upgrades_to_the_models(empty_database_url: str) -> None:
    head = migrate.head()
    assert schema_status(empty_database_url) == (None, head)
    assert upgrade(empty_database_url) == (None, head)
    assert schema_differences(empty_database_url) == []
    assert schema_status(empty_database_url) == (head, head)
    assert upgrade(empty_database_url) == (head, head)  # safe to run twice


def test_the_comparison_sees_a_difference(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    _sql(empty_database_url, "DROP INDEX ix_entry_time")
    assert [diff[0] for diff in schema_differences(empty_database_url)] == ["add_index"]


def test_open_store_creates_an_empty_database(empty_database_url: str) -> None:
    with open_store(empty_database_url) as store:
        assert store.feeds() == []
    assert schema_status(empty_database_url) == (migrate.head(), migrate.head())
    assert schema_differences(empty_database_url) == []


def test_concurrent_start_ups_on_an_empty_database_upgrade_once(empty_database_url: str) -> None:
    def start(_: int) -> str:
        with open_store(empty_database_url) as store:
            return store.dialect

    with ThreadPoolExecutor(4) as pool:
        assert len(list(pool.map(start, range(4)))) == 4
    assert schema_differences(empty_database_url) == []


def test_an_older_schema_is_refused_until_upgraded(
    database_url: str, newer_code: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    open_store(database_url).close()  # at today's revision, 0001
    assert newer_code() == "0002"
    with pytest.raises(StoreError, match=r"revision 0001, older .* run `monitor db upgrade`"):
        open_store(database_url)

    monkeypatch.setenv("MONITOR_DATABASE_URL", database_url)
    runner = CliRunner()
    refused = runner.invoke(main, ["status"])
    assert refused.exit_code == 1
    assert "run `monitor db upgrade`" in refused.output
    assert runner.invoke(main, ["db", "current"]).output == "database: 0001\ncode:     0002\n"

    done = runner.invoke(main, ["db", "upgrade"])
    assert done.exit_code == 0, done.output
    assert done.output == "db: upgraded from revision 0001 to 0002\n"
    assert runner.invoke(main, ["db", "upgrade"]).output == "db: already at revision 0002\n"
    assert runner.invoke(main, ["db", "current"]).exit_code == 0
    with open_store(database_url) as store:
        assert store.feeds() == []


def test_a_database_made_before_migrations_is_stamped_by_upgrade(database_url: str) -> None:
    open_store(database_url).close()
    engine = create_engine(database_url)
    try:
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        metadata.create_all(engine)
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match=r"no schema revision.*run `monitor db upgrade`"):
        open_store(database_url)
    assert upgrade(database_url) == (None, migrate.head())
    assert schema_differences(database_url) == []
    open_store(database_url).close()


def test_a_database_of_a_newer_version_is_refused(database_url: str) -> None:
    open_store(database_url).close()
    _sql(database_url, "UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match=r"unknown to this monitor.*upgrade monitor"):
        open_store(database_url)


def test_the_migrations_are_packaged() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["monitor"]
    package = ROOT / "monitor"
    files = [
        p.relative_to(package).as_posix()
        for p in (package / "migrations").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert "migrations/env.py" in files
    assert "migrations/versions/0001_initial.py" in files
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
