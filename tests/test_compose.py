"""docker-compose.yml, the Dockerfile and .env.example, checked without Docker (CI has none):
the compose file parses, every MONITOR_* variable is a real setting, every mounted or copied
path exists, the image's commands exist in the CLI, and it runs as a non-root user."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

from monitor.cli import main
from monitor.settings import Settings
from tests.conftest import ROOT
from tests.feedserver import FeedServer

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
SETTINGS = {f"MONITOR_{name.upper()}" for name in Settings.model_fields}


def interpolated(value: object, shell: dict[str, str] | None = None) -> str:
    """A compose value with ${VAR:-default} replaced as compose does: by VAR from the shell or
    .env (`shell`) when it is set and not empty, else by its default."""

    def variable(m: re.Match[str]) -> str:
        return (shell or {}).get(m.group(1)) or m.group(2) or ""

    return re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", variable, str(value))


def environment(service: str, shell: dict[str, str] | None = None) -> dict[str, str]:
    env = COMPOSE["services"][service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: interpolated(value, shell) for name, value in env.items()}


def published(service: str, shell: dict[str, str] | None = None) -> list[str]:
    """The service's ports (short syntax) as compose publishes them."""
    return [interpolated(port, shell) for port in COMPOSE["services"][service].get("ports", [])]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def command_words(arguments: str) -> list[str]:
    """The words of a CMD/ENTRYPOINT/RUN, exec form (JSON) or shell form."""
    if arguments.startswith("["):
        words = yaml.safe_load(arguments)  # a JSON array
        if words[:2] == ["sh", "-c"]:
            return shlex.split(words[2])
        return list(words)
    return shlex.split(arguments)


def monitor_invocations() -> list[list[str]]:
    """Every `monitor …` the image runs, split at && ; |."""
    found = []
    for keyword, arguments in instructions():
        if keyword not in ("CMD", "ENTRYPOINT"):
            continue
        words: list[str] = []
        for word in [*command_words(arguments), "&&"]:
            if word in ("&&", ";", "||", "|"):
                if words and words[0] == "exec":
                    words = words[1:]
                if words and words[0] == "monitor":
                    found.append(words)
                words = []
            else:
                words.append(word)
    return found


def test_the_compose_file_has_the_three_services() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "monitor", "mailpit"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    assert services["monitor"]["build"] == "."


def test_postgres_keeps_its_data_in_a_volume_and_has_a_healthcheck() -> None:
    postgres = COMPOSE["services"]["postgres"]
    volume, _, target = postgres["volumes"][0].partition(":")
    assert volume in COMPOSE["volumes"] and target == "/var/lib/postgresql/data"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    waits = COMPOSE["services"]["monitor"]["depends_on"]
    assert waits["postgres"]["condition"] == "service_healthy"


def test_the_daemon_uses_postgres_listens_on_every_interface_and_mails_mailpit() -> None:
    env = environment("monitor")
    postgres = COMPOSE["services"]["postgres"]["environment"]
    url = env["MONITOR_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url
    assert url.endswith("/" + postgres["POSTGRES_DB"])
    assert env["MONITOR_HTTP_HOST"] == "0.0.0.0"
    assert "127.0.0.1:8000:8000" in published("monitor")
    assert (env["MONITOR_SMTP_HOST"], env["MONITOR_SMTP_PORT"]) == ("mailpit", "1025")
    assert env["MONITOR_SMTP_STARTTLS"] == "false"
    assert {"127.0.0.1:8025:8025", "127.0.0.1:1025:1025"} <= set(
        COMPOSE["services"]["mailpit"]["ports"]
    )


@pytest.mark.parametrize("service", sorted(COMPOSE["services"]))
def test_every_port_is_published_on_127_0_0_1_only(service: str) -> None:
    """Docker publishes on every interface by default, past the host's firewall; the page
    has no login unless a token is set and Mailpit has none."""
    for port in COMPOSE["services"][service].get("ports", []):
        if isinstance(port, dict):  # the long syntax
            assert port.get("host_ip") == "127.0.0.1", port
        else:
            port = interpolated(port, {"MONITOR_HTTP_PORT": "9000"})
            assert port.startswith("127.0.0.1:") and port.count(":") == 2, port


def test_the_mail_catcher_image_is_pinned_to_a_version_and_digest() -> None:
    image = COMPOSE["services"]["mailpit"]["image"]
    assert re.fullmatch(r"axllent/mailpit:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}", image), image


def test_every_monitor_variable_set_is_a_real_setting() -> None:
    used = set(environment("monitor"))
    used |= set(re.findall(r"\$\{(MONITOR_\w+)", (ROOT / "docker-compose.yml").read_text()))
    used |= {name for name in re.findall(r"\b(MONITOR_\w+)=", ENV_EXAMPLE)}
    used |= set(re.findall(r"\b(MONITOR_\w+)=", DOCKERFILE))
    assert used <= SETTINGS, sorted(used - SETTINGS)


def test_the_env_example_lists_every_setting_with_its_default_commented() -> None:
    listed = re.findall(r"^# (MONITOR_\w+)=(.*)$", ENV_EXAMPLE, re.M)
    assert sorted(name for name, _ in listed) == sorted(SETTINGS)
    assert not re.search(r"^MONITOR_", ENV_EXAMPLE, re.M)  # nothing set, only shown
    defaults = dict(listed)
    assert defaults["MONITOR_DATABASE_URL"] == Settings.model_fields["database_url"].default


def _example_comments() -> dict[str, str]:
    """Each setting's comment in .env.example, its lines joined, by the variable it is above."""
    said = {}
    for block in re.split(r"\n\s*\n", ENV_EXAMPLE):
        lines = block.strip().splitlines()
        if (shown := re.match(r"# (MONITOR_\w+)=", lines[-1])) is not None:
            said[shown[1]] = " ".join(line.removeprefix("#").strip() for line in lines[:-1])
    return said


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_comment_in_the_env_example_is_the_settings_meaning(name: str) -> None:
    """The comment above each setting is what `monitor init` writes above it (the setting's
    description): written by hand, ten of them had fallen behind (`unset: three times
    CHECK_INTERVAL` for MONITOR_HEALTH_MAX_AGE, whose default follows the feeds' intervals)."""
    meaning = Settings.model_fields[name.removeprefix("MONITOR_").lower()].description or ""
    assert _example_comments()[name] == " ".join(meaning.split())


@pytest.mark.parametrize(
    ("name", "value"), re.findall(r"^# (MONITOR_\w+)=(.*)$", ENV_EXAMPLE, re.M)
)
def test_every_value_in_the_env_example_is_the_real_default(name: str, value: str) -> None:
    """Uncommenting a line changes nothing: the value shown is what Settings uses without it."""
    field = name.removeprefix("MONITOR_").lower()
    info = Settings.model_fields[field]
    default = info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]
    if value == "":
        assert default in (None, [], {}), f"{name}: shown unset, default {default!r}"
        return
    parsed = getattr(Settings(_env_file=None, **{field: value}), field)  # type: ignore[call-arg]
    assert parsed == default, f"{name}={value} in .env.example, default {default!r}"


@pytest.mark.parametrize("mount", COMPOSE["services"]["monitor"]["volumes"])
def test_every_mounted_path_exists_read_only(mount: str) -> None:
    source, target, *options = mount.split(":")
    assert source.startswith("./"), "the daemon mounts only repository paths"
    assert (ROOT / source).exists(), source
    assert options == ["ro"], f"{source} should be mounted read-only"
    env = environment("monitor")
    assert target in (env["MONITOR_INDICATORS_DIR"], str(Path(env["MONITOR_FEEDS_FILE"]).parent))


def test_the_dockerfile_copies_paths_that_exist_and_are_not_ignored() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    copies = [arguments.split()[:-1] for keyword, arguments in instructions() if keyword == "COPY"]
    assert copies
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source not in ignored, f"{source} is in .dockerignore"


def test_the_image_is_slim_python_of_the_supported_version() -> None:
    (base,) = [arguments for keyword, arguments in instructions() if keyword == "FROM"]
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base), base


def test_the_image_runs_as_a_non_root_user() -> None:
    users = [arguments for keyword, arguments in instructions() if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(rf"useradd\b[^&]*\b{re.escape(users[-1])}\b", DOCKERFILE)
    steps = [keyword for keyword, _ in instructions()]
    last_user = len(steps) - 1 - steps[::-1].index("USER")
    assert "CMD" in steps[last_user:], "the command runs after USER"


def healthcheck_command() -> str:
    """The command of the image's HEALTHCHECK, as written after its options."""
    (arguments,) = [rest for keyword, rest in instructions() if keyword == "HEALTHCHECK"]
    _, cmd, command = arguments.partition(" CMD ")
    assert cmd, arguments
    return command.strip()


def healthcheck_argv() -> list[str]:
    """What Docker runs for the HEALTHCHECK: the exec form's words, or the shell form by sh."""
    command = healthcheck_command()
    if command.startswith("["):
        return list(yaml.safe_load(command))  # a JSON array
    return ["sh", "-c", command]


def test_the_healthcheck_follows_the_port_by_default_8000() -> None:
    command = healthcheck_command()
    assert not command.startswith("["), "the shell form, which expands ${MONITOR_HTTP_PORT}"
    default = str(Settings.model_fields["http_port"].default)
    assert "http://127.0.0.1:${MONITOR_HTTP_PORT:-" + default + "}/healthz" in command
    assert not re.search(r":\d+/", command), "no port written out"
    assert re.search(rf"\bMONITOR_HTTP_PORT={default}\b", DOCKERFILE)  # the image's ENV
    assert ("EXPOSE", default) in instructions()


def test_the_healthcheck_asks_the_port_the_daemon_listens_on(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """`docker run -e MONITOR_HTTP_PORT=9000`: the daemon listened on 9000 while the health
    check asked 127.0.0.1:8000, so the container was unhealthy however well it ran. Run here
    by sh as Docker runs it (a server on a free port standing for the daemon): it asks the
    port MONITOR_HTTP_PORT names, and fails when that answers 503."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)  # the image's `python`
    port = urlsplit(feed_server.url()).port
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "MONITOR_HTTP_PORT": str(port)}

    def healthcheck() -> int:
        return subprocess.run(healthcheck_argv(), env=env).returncode

    feed_server.route("/healthz", body=b'{"status": "ok"}', headers={"Content-Type": "json"})
    healthy = healthcheck()
    feed_server.route("/healthz", status=503, body=b'{"status": "stale"}')
    unhealthy = healthcheck()

    assert (healthy, unhealthy) == (0, 1)
    assert feed_server.hits("/healthz") == 2


@pytest.mark.parametrize(
    ("shell", "port"),
    [({}, "8000"), ({"MONITOR_HTTP_PORT": ""}, "8000"), ({"MONITOR_HTTP_PORT": "9000"}, "9000")],
    ids=["unset", "empty", "9000"],
)
def test_compose_listens_publishes_and_checks_the_port_http_port_names(
    shell: dict[str, str], port: str
) -> None:
    """MONITOR_HTTP_PORT=9000 in .env or the shell: the compose file pinned 8000 in the
    daemon's `environment:` (which wins over `env_file:`) and in its `ports:`, so the setting
    was silently ignored. The daemon listens on, the health check asks (the container's
    MONITOR_HTTP_PORT) and compose publishes one port: the one it names, else 8000."""
    container = shell | environment("monitor", shell)  # .env as env_file, then `environment:`
    assert container["MONITOR_HTTP_PORT"] == port
    assert published("monitor", shell) == [f"127.0.0.1:{port}:{port}"]
    assert "${MONITOR_HTTP_PORT:-8000}" in healthcheck_command()


def test_the_image_upgrades_the_database_then_runs_the_daemon() -> None:
    invocations = monitor_invocations()
    assert invocations == [["monitor", "db", "upgrade"], ["monitor", "run"]]
    for words in invocations:
        assert resolve(words[1:]).name == words[-1]


def resolve(words: list[str]) -> click.Command:
    """The click command `monitor words…` runs; fails when there is none."""
    command: Any = main
    with click.Context(main) as ctx:
        for word in words:
            assert isinstance(command, click.Group), f"{word}: not a group"
            command = command.get_command(ctx, word)
            assert command is not None, f"no command `monitor {' '.join(words)}`"
    return command


def test_the_console_script_is_monitor() -> None:
    assert re.search(
        r'^monitor = "monitor\.cli:main"$', (ROOT / "pyproject.toml").read_text(), re.M
    )
