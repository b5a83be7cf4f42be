"""Every setting, read once from the environment (prefix MONITOR_) and `.env`.

Build one `Settings()` at the edge (the CLI) and pass values down; nothing else reads the
environment. Each field's description is the README's text for it. The package's modules:
`model` (the `Settings`, every field and the forms its values take) below `startup` (reading
them at start-up: `.env` warnings, errors on one line, the data folder).
"""

from monitor.settings.model import (
    API_TOKEN_NAME,
    LOG_LEVELS,
    SESSION_SECRET_MIN,
    SMTP_TLS_PORT,
    Settings,
)
from monitor.settings.startup import PREFIX, database_dir_problem, explain, load_settings

__all__ = [
    "API_TOKEN_NAME",
    "LOG_LEVELS",
    "PREFIX",
    "SESSION_SECRET_MIN",
    "SMTP_TLS_PORT",
    "Settings",
    "database_dir_problem",
    "explain",
    "load_settings",
]
