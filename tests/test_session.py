"""The session cookie, its CSRF token and the brake on guessing (monitor.session), and the token
settings (MONITOR_API_TOKENS, MONITOR_SESSION_*): pure, on a clock the tests move."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.session import Keyring, Throttle
from monitor.settings import load_settings
from tests.webdata import settings

T0 = datetime(2026, 1, 6, 7, 0, tzinfo=UTC)
TOKENS = {"alice": "alice-token-1", "bob": "bob-token-2"}
TTL = timedelta(hours=12)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def ring(clock: Clock, tokens: dict[str, str] = TOKENS, secret: str | None = None) -> Keyring:
    return Keyring(tokens, ttl=TTL, secret=secret, clock=clock)


# ---------------------------------------------------------------- tokens


def test_a_token_is_known_by_its_name_and_nothing_else_is(clock: Clock) -> None:
    keys = ring(clock)
    assert keys.identify("alice-token-1") == "alice"
    assert keys.identify("bob-token-2") == "bob"
    for wrong in ("", "alice", "alice-token-", "alice-token-1 ", "ALICE-TOKEN-1", "\udcff"):
        assert keys.identify(wrong) is None, wrong


# ---------------------------------------------------------------- the cookie


def test_a_session_reads_back_until_it_expires(clock: Clock) -> None:
    keys = ring(clock)
    cookie, session = keys.issue("alice")
    assert (session.name, session.issued, session.expires) == ("alice", T0, T0 + TTL)

    clock.now = T0 + TTL - timedelta(seconds=1)
    assert keys.read(cookie) == session
    clock.now = T0 + TTL + timedelta(seconds=1)
    assert keys.read(cookie) is None


def test_a_cookie_from_the_future_is_no_session(clock: Clock) -> None:
    keys = ring(clock)
    clock.now = T0 + timedelta(hours=1)
    cookie, _ = keys.issue("alice")
    clock.now = T0
    assert keys.read(cookie) is None


def test_every_change_to_a_cookie_makes_it_no_session(clock: Clock) -> None:
    keys = ring(clock)
    cookie, _ = keys.issue("alice")
    payload, stamp, signature = cookie.split(".")
    forged = json.dumps({"n": "bob", "k": "0" * 16, "c": "x"}).encode()
    forged_payload = base64.urlsafe_b64encode(forged).decode().rstrip("=")
    # The first character: all six of its bits are the signature's (the last one's low bits are
    # padding, which base64 decoding ignores, so altering it may leave the signature as it was).
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for bad in (
        f"{forged_payload}.{stamp}.{signature}",  # another name under the old signature
        f"{payload}.{stamp}.{flipped}",  # the signature altered
        f"{payload}.{stamp}",  # no signature
        f"{payload}.AAAAAA.{signature}",  # another time
        "",
        "garbage",
        "a.b.c.d",
    ):
        assert keys.read(bad) is None, bad


def test_a_cookie_signed_with_another_key_is_no_session(clock: Clock) -> None:
    mine, theirs = ring(clock, secret="s" * 32), ring(clock, secret="t" * 32)
    cookie, _ = theirs.issue("alice")
    assert mine.read(cookie) is None
    assert theirs.read(cookie) is not None


def test_the_derived_key_is_the_same_for_the_same_tokens_so_a_restart_keeps_sessions(
    clock: Clock,
) -> None:
    cookie, session = ring(clock).issue("alice")
    assert ring(clock).read(cookie) == session  # another process, the same tokens
    assert ring(clock, {**TOKENS, "carol": "c-token"}).read(cookie) is None  # the key moved


def test_changing_or_removing_a_token_ends_its_sessions_even_with_a_fixed_secret(
    clock: Clock,
) -> None:
    secret = "x" * 40
    cookie, _ = ring(clock, secret=secret).issue("alice")
    bob_cookie, _ = ring(clock, secret=secret).issue("bob")
    changed = ring(clock, {"alice": "a-new-token", "bob": "bob-token-2"}, secret=secret)
    assert changed.read(cookie) is None
    assert changed.read(bob_cookie) is not None
    assert ring(clock, {"bob": "bob-token-2"}, secret=secret).read(cookie) is None


def test_a_signed_out_session_is_refused_and_the_list_forgets_it_once_expired(
    clock: Clock,
) -> None:
    keys = ring(clock)
    cookie, session = keys.issue("alice")
    other, _ = keys.issue("alice")
    keys.revoke(session)
    assert keys.read(cookie) is None
    assert keys.read(other) is not None  # another browser of alice stays signed in
    clock.now = T0 + TTL + timedelta(minutes=1)
    keys.revoke(keys.issue("bob")[1])
    assert session.nonce not in keys._revoked  # pruned: it has expired anyway


# ---------------------------------------------------------------- CSRF


def test_the_csrf_token_belongs_to_one_session(clock: Clock) -> None:
    keys = ring(clock)
    _, first = keys.issue("alice")
    _, second = keys.issue("alice")
    token = keys.csrf(first)
    assert keys.csrf_ok(first, token)
    assert keys.csrf(first) == token  # the same on every page of the session
    assert not keys.csrf_ok(second, token)
    for wrong in (None, "", token[:-1], token.upper(), token + "0", "é"):
        assert not keys.csrf_ok(first, wrong), wrong
    assert ring(clock, secret="k" * 32).csrf(first) != token  # it is keyed


# ---------------------------------------------------------------- the brake


def test_the_throttle_stops_an_address_after_too_many_wrong_tokens_until_the_window_passes(
    clock: Clock,
) -> None:
    throttle = Throttle(failures=3, window=timedelta(minutes=5), clock=clock)
    for n in range(3):
        assert throttle.wait("10.0.0.1") is None
        clock.now = T0 + timedelta(seconds=n)
        throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") == timedelta(minutes=5) - timedelta(seconds=2)
    assert throttle.wait("10.0.0.2") is None  # another address is not held
    clock.now = T0 + timedelta(minutes=5, seconds=0.5)
    assert throttle.wait("10.0.0.1") is None  # the first failure left the window


def test_the_throttle_keeps_a_bounded_number_of_addresses(clock: Clock) -> None:
    throttle = Throttle(failures=2, window=timedelta(minutes=1), clock=clock, addresses=3)
    for n in range(10):
        throttle.failed(f"10.0.0.{n}")
    assert len(throttle._seen) <= 3


# ---------------------------------------------------------------- the settings


@pytest.mark.parametrize(
    "value",
    [
        "alice:alice-token-1,bob:bob-token-2",
        " alice : alice-token-1 , bob:bob-token-2 ,",
        '{"alice": "alice-token-1", "bob": "bob-token-2"}',
        '["alice:alice-token-1", "bob:bob-token-2"]',
    ],
)
def test_named_tokens_are_read_in_each_form(value: str) -> None:
    assert settings(api_tokens=value).named_tokens() == TOKENS


def test_the_single_token_is_named_api_next_to_the_named_ones() -> None:
    both = settings(api_token="solo", api_tokens="alice:alice-token-1")
    assert both.named_tokens() == {"api": "solo", "alice": "alice-token-1"}
    assert settings().named_tokens() == {}


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"MONITOR_API_TOKENS": "alice"}, "MONITOR_API_TOKENS: item 1 is not name:token"),
        ({"MONITOR_API_TOKENS": "a:1,b c:2"}, "MONITOR_API_TOKENS: item 2 is not name:token"),
        ({"MONITOR_API_TOKENS": "a:"}, "MONITOR_API_TOKENS: item 1 is not name:token"),
        ({"MONITOR_API_TOKENS": "a:secret-1,a:secret-2"},
         "MONITOR_API_TOKENS: item 2: the name 'a' is taken by an earlier item"),
        ({"MONITOR_API_TOKENS": "a:secret-1,b:secret-1"},
         "MONITOR_API_TOKENS: item 2 ('b') has the same token as 'a'"),
        ({"MONITOR_API_TOKEN": "secret-0", "MONITOR_API_TOKENS": "api:secret-1"},
         "MONITOR_API_TOKENS: item 1: the name 'api' is taken by MONITOR_API_TOKEN"),
        ({"MONITOR_API_TOKENS": '{"a": 1}'}, "MONITOR_API_TOKENS: not name:token,…"),
        ({"MONITOR_API_TOKENS": '{"a": "secret-1"'}, "MONITOR_API_TOKENS: not valid JSON"),
        ({"MONITOR_SESSION_TTL": "30s"}, "MONITOR_SESSION_TTL: a session lasts at least 1m"),
        ({"MONITOR_SESSION_TTL": "soon"}, "MONITOR_SESSION_TTL: 'soon' is not a duration"),
        ({"MONITOR_SESSION_SECRET": "secret-short"},
         "MONITOR_SESSION_SECRET: shorter than 32 characters"),
    ],
)  # fmt: skip
def test_a_bad_token_setting_is_one_line_that_never_shows_a_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], line: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path / "absent.env")
    message = str(raised.value)
    assert message.startswith(f"settings: {line}")
    assert "\n" not in message
    assert "secret-" not in message  # neither the token nor the secret is echoed
