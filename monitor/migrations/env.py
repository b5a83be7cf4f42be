"""Alembic's environment for monitor's schema (see monitor/migrate.py).

monitor runs it with an open connection inside a transaction (`config.attributes`: connection,
metadata), so an upgrade is one transaction that concurrent upgrades wait for. To write a new
revision from the models, against a scratch database at the previous head:

    .venv/bin/python -c "from monitor import store; store.new_revision('sqlite:///x.db', 'why')"

then read the generated file in monitor/migrations/versions/ and make it portable by hand.
"""

from alembic import context

config = context.config
connection = config.attributes["connection"]
target_metadata = config.attributes["metadata"]

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
