"""What every request meets before an endpoint (monitor.guard.Guard), through TestClient over
the web test database: HEAD wherever GET, nosniff on every answer (errors too), and the Host
check that keeps a DNS-rebinding page from reading the API."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from monitor.domain import Definitions
from monitor.guard import NULL_ORIGIN, Guard
from monitor.server import Limits
from monitor.store import Store
from monitor.web import WebServer, create_app
from tests import webdata
from tests.webdata import NOW, VISA_HERALD, entry_id, settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs, store, app = webdata.db_url, webdata.defs, webdata.store, webdata.app  # fixtures

GET_PATHS = [
    "/",
    "/healthz",
    "/indicators",
    "/indicators/visa-easing",
    "/indicators/visa-easing/history",
    "/indicators/visa-easing/page",
    "/feeds",
    "/metrics",
    "/changes.atom",
    "/export/changes?format=json",
    "/openapi.json",
    "/docs",
    "/indicators/nope",  # 404 to GET, so 404 to HEAD
]


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_head_answers_wherever_get_does_with_the_same_headers_and_no_body(
    client: TestClient,
) -> None:
    for path in GET_PATHS:
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code, path
        assert head.content == b"", path
        for name in ("content-type", "content-length", "etag", "x-content-type-options"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)


def test_head_honours_if_none_match(client: TestClient) -> None:
    etag = client.get("/indicators").headers["etag"]
    assert client.head("/indicators", headers={"If-None-Match": etag}).status_code == 304


def test_every_error_answer_carries_nosniff(store: Store, defs: Definitions) -> None:
    def broken() -> Definitions:
        raise RuntimeError("boom")

    guarded = create_app(
        store=store, definitions=lambda: defs, settings=settings(api_token="t"), clock=lambda: NOW
    )
    failing = create_app(store=store, definitions=broken, settings=settings(), clock=lambda: NOW)
    with (
        TestClient(guarded, raise_server_exceptions=False) as auth,
        TestClient(failing, raise_server_exceptions=False) as fail,
    ):
        bearer = {"Authorization": "Bearer t"}
        answers = {
            401: auth.get("/indicators"),
            404: auth.get("/indicators/nope", headers=bearer),
            405: auth.post("/indicators", headers=bearer),
            422: auth.get("/indicators/visa-easing/history?limit=0", headers=bearer),
            400: auth.get("/indicators", headers={**bearer, "Host": "evil.example"}),
            500: fail.get("/indicators"),
        }
        answers[0] = auth.get("/no/such/path", headers=bearer)
    for status, answer in answers.items():
        assert answer.status_code == (status or 404)
        assert answer.headers["x-content-type-options"] == "nosniff", status
        assert answer.headers["content-type"] == "application/json", status


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "[::1]", "LOCALHOST."]
)
def test_the_local_names_are_answered_on_any_port(client: TestClient, host: str) -> None:
    assert client.get("/indicators", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["[0:0:0:0:0:0:0:1]:8000", "[0::1]", "[::0001]:80"])
def test_an_ipv6_address_in_brackets_is_read_as_the_address_it_is(
    client: TestClient, host: str
) -> None:
    """`[0:0:0:0:0:0:0:1]` is `[::1]`, a loopback address: it was compared as text, and
    refused."""
    assert client.get("/indicators", headers={"Host": host}).status_code == 200


def test_an_ipv4_mapped_address_is_read_as_its_ipv4_address_over_http(app: FastAPI) -> None:
    """`[::ffff:127.0.0.1]` is 127.0.0.1 written as IPv6 (a dual-stack socket's form): it was
    compared as the IPv6 address `[::ffff:7f00:1]` and refused while `127.0.0.1` was answered.
    Another mapped address is as foreign as its IPv4 form."""
    with WebServer(app, host="127.0.0.1", port=0) as server, httpx.Client() as web:
        for host in ("[::ffff:127.0.0.1]", "[::ffff:127.0.0.1]:8000", "[::FFFF:7f00:1]"):
            answer = web.get(f"{server.url}/indicators", headers={"Host": host})
            assert answer.status_code == 200, (host, answer.text)
        foreign = web.get(f"{server.url}/indicators", headers={"Host": "[::ffff:10.9.9.9]"})
        assert foreign.status_code == 400
    listed = Guard(lambda *_: None, allowed_hosts=["10.0.0.5:8000"], bind_host="0.0.0.0")  # type: ignore[arg-type,return-value]
    assert listed.allows("[::ffff:10.0.0.5]:8000", ("::ffff:10.0.0.5", 8000))
    assert not listed.allows("[::ffff:10.0.0.5]:8001", ("::ffff:10.0.0.5", 8000))


@pytest.mark.parametrize("host", ["::1", "::1:8000", "0:0:0:0:0:0:0:1"])
def test_a_bare_ipv6_address_is_refused_saying_how_to_write_it(
    client: TestClient, host: str
) -> None:
    """A Host writes an IPv6 address in brackets (RFC 3986), as browsers, curl and httpx send
    it: a bare one is no Host a client sends. It was read as an address without a port, so
    `::1` was answered while `::1:8000`, meant as [::1]:8000, was the address ::1:8000 and
    refused without saying why."""
    answer = client.get("/indicators", headers={"Host": host})

    assert answer.status_code == 400
    assert answer.json()["detail"] == (
        f"web: Host {host!r} is not an allowed host: an IPv6 address is written in brackets, "
        "as '[::1]' or '[::1]:8000'"
    )


def test_an_allowed_ipv6_address_may_be_listed_bare_or_in_brackets() -> None:
    """In MONITOR_HTTP_ALLOWED_HOSTS and as the bind address, a bare IPv6 address is one (no
    port: a port goes with brackets), in whatever form: the Host's form need not be the same."""
    for listed in (["2001:db8::5"], ["[2001:DB8:0::5]"], ["[2001:db8::5]:8000"]):
        guard = Guard(lambda *_: None, allowed_hosts=listed, bind_host="::")  # type: ignore[arg-type,return-value]
        assert guard.allows("[2001:db8::5]:8000", ("2001:db8::10", 8000)), listed
        assert guard.allows("[2001:db8:0:0::5]:8000", ("2001:db8::10", 8000)), listed
        assert not guard.allows("2001:db8::5", ("2001:db8::10", 8000)), listed
        assert not guard.allows("[2001:db8::6]:8000", ("2001:db8::10", 8000)), listed
    bound = Guard(lambda *_: None, allowed_hosts=[], bind_host="2001:db8:0::5")  # type: ignore[arg-type,return-value]
    assert bound.allows("[2001:db8::5]", ("2001:db8::5", 8000))


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "localhost.evil.example", "127.0.0.1.nip.io", ""]
)
def test_another_host_is_refused_with_400(client: TestClient, host: str) -> None:
    """A page of evil.example whose name now resolves to 127.0.0.1 reads nothing."""
    answer = client.get("/indicators", headers={"Host": host})
    assert answer.status_code == 400
    assert "is not an allowed host" in answer.json()["detail"]
    assert client.head("/healthz", headers={"Host": host}).status_code == 400


ANOTHER_SITE = [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},  # another port of 127.0.0.1, another app of the LAN
    {"Origin": "https://evil.example"},
]


@pytest.mark.parametrize("headers", ANOTHER_SITE)
def test_another_sites_page_changes_nothing_through_the_json_endpoints(
    client: TestClient, store: Store, headers: dict[str, str]
) -> None:
    """Without tokens (the default) anyone who reaches the port may judge and silence, and a
    page of any site the analyst visits reaches 127.0.0.1 through their browser: a `fetch` with
    a Blob body sends no Content-Type, needs no CORS preflight, and FastAPI before 0.132 read
    it as JSON. Whatever the body, a request the browser says is another site's is refused."""
    herald = entry_id(store, VISA_HERALD)
    posts = {
        f"/indicators/visa-easing/evidence/{herald}/verdict": {"outcome": "eased", "verdict": "no"},
        "/silences": {"indicator": "visa-easing", "for": "1d", "reason": "noise"},
    }
    for path, body in posts.items():
        answer = client.post(path, json=body, headers=headers)
        assert answer.status_code == 403, path
        assert answer.json() == {
            "detail": "web: a page of another site may not change anything here"
        }
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert (store.verdicts(), store.silences()) == ([], [])
    same_origin = {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}
    assert client.post("/silences", json=posts["/silences"], headers=same_origin).status_code == 201


def test_a_null_origin_changes_nothing_unless_the_browser_says_the_page_is_this_site_s(
    app: FastAPI, store: Store
) -> None:
    """`Origin: null` is what a sandboxed frame of any site, a file or a cross-site redirect
    sends, also from a browser older than Sec-Fetch-Site: it was taken for no other site's,
    and judged and silenced. It is refused (the page's own forms send their origin), unless
    Sec-Fetch-Site, which a page cannot forge, says the page is this site's."""
    herald = entry_id(store, VISA_HERALD)
    verdict = {"outcome": "eased", "verdict": "no"}
    silence = {"indicator": "visa-easing", "for": "1d", "reason": "noise"}
    page = "/indicators/visa-easing/page"
    with (
        WebServer(app, host="127.0.0.1", port=0) as server,
        httpx.Client(base_url=server.url, follow_redirects=False) as web,
    ):
        posts = [
            web.build_request("POST", f"/indicators/visa-easing/evidence/{herald}/verdict",
                              json=verdict),
            web.build_request("POST", f"{page}/verdict", data={"entry": str(herald), **verdict}),
            web.build_request("POST", "/silences", json=silence),
            web.build_request("POST", f"{page}/silence", data={"for": "1d", "reason": "noise"}),
        ]  # fmt: skip
        for asked in posts:
            asked.headers["Origin"] = "null"
            answer = web.send(asked)
            assert answer.status_code == 403, (asked.url, answer.text)
            assert answer.json() == {"detail": NULL_ORIGIN}
        assert (store.verdicts(), store.silences()) == ([], [])

        own = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}  # under the old no-referrer
        judged = web.post(f"{page}/verdict", data={"entry": str(herald), **verdict}, headers=own)
        assert judged.status_code == 303, judged.text
        named = web.post("/silences", json=silence, headers={"Origin": server.url})
        assert named.status_code == 201, named.text
    assert NULL_ORIGIN == (
        "web: the browser did not say which site's page sent this (Origin: null), so it is "
        "refused as another site's would be; reload this site's page and send it again"
    )


def test_a_tool_and_a_browser_reading_are_not_taken_for_another_site(client: TestClient) -> None:
    """curl and scripts send neither Sec-Fetch-Site nor Origin; reading is never refused."""
    body = {"indicator": "visa-easing", "for": "1d", "reason": "noise"}
    assert client.post("/silences", json=body).status_code == 201
    for method in ("GET", "HEAD"):
        answer = client.request(method, "/indicators", headers={"Sec-Fetch-Site": "cross-site"})
        assert answer.status_code == 200, method


def test_allowed_hosts_replace_the_bind_address_and_may_name_a_port() -> None:
    guard = Guard(
        lambda *_: None,  # type: ignore[arg-type,return-value]
        allowed_hosts=["monitor.example.org", "*.example.net", "status.example.com:8443"],
        bind_host="0.0.0.0",
    )
    server = ("10.0.0.5", 8000)
    assert guard.allows("monitor.example.org", server)
    assert guard.allows("Monitor.Example.org:8000", server)
    assert guard.allows("a.b.example.net", server)
    assert guard.allows("status.example.com:8443", server)
    assert not guard.allows("status.example.com:8000", server)
    assert not guard.allows("example.net", server)
    assert not guard.allows("10.0.0.5", server)  # the list replaces the bind address…
    for loopback in ("localhost", "127.0.0.1:8000", "[::1]:8000"):  # …not the loopback names,
        assert guard.allows(loopback, server)  # which the image's healthcheck sends
    anything = Guard(lambda *_: None, allowed_hosts=["*"], bind_host="::")  # type: ignore[arg-type,return-value]
    assert anything.allows("whatever.example", server)


@pytest.mark.parametrize(
    "host",
    [
        "localhost:80@evil.example",
        "localhost:x",
        "[::1]evil.example",
        "[::1]:8000x",
        "localhost:\xb2",
    ],
)
def test_a_host_with_anything_but_digits_after_the_colon_is_refused(
    client: TestClient, host: str
) -> None:
    """No browser sends these; read leniently they were a loopback name on some port, and
    'localhost:²' (the byte 0xB2 as the server decodes it: a digit to str.isdigit, not to int)
    raised ValueError in the Guard (TestClient sends it as UTF-8, so it is asked directly)."""
    guard = Guard(lambda *_: None, allowed_hosts=[], bind_host="127.0.0.1")  # type: ignore[arg-type,return-value]
    assert not guard.allows(host, ("127.0.0.1", 8000))
    if host.isascii():
        assert client.get("/indicators", headers={"Host": host}).status_code == 400


@pytest.mark.parametrize("allowed", [[], ["status.example.com"]])
def test_the_public_url_s_host_is_allowed(
    store: Store, defs: Definitions, allowed: list[str]
) -> None:
    """Readers reach the page at MONITOR_PUBLIC_URL, through a proxy that may pass their Host
    on: that name needs no listing in MONITOR_HTTP_ALLOWED_HOSTS as well, on any port."""
    public = settings(public_url="https://Monitor.Example.org/status", http_allowed_hosts=allowed)
    app = create_app(store=store, definitions=lambda: defs, settings=public, clock=lambda: NOW)
    with TestClient(app) as client:
        for host in ("monitor.example.org", "monitor.example.org:443", "MONITOR.example.org."):
            assert client.get("/indicators", headers={"Host": host}).status_code == 200, host
        for host in ("evil.example", "example.org", "monitor.example.org.evil.example"):
            assert client.get("/indicators", headers={"Host": host}).status_code == 400, host
    ipv6 = Guard(
        lambda *_: None,  # type: ignore[arg-type,return-value]
        allowed_hosts=allowed,
        bind_host="::",
        public_url="http://[2001:db8::7]:8080/",
    )
    assert ipv6.allows("[2001:db8::7]:8080", ("2001:db8::10", 8080))


def test_the_default_allows_the_bind_address_and_the_address_the_request_reached() -> None:
    guard = Guard(lambda *_: None, allowed_hosts=[], bind_host="192.168.1.9")  # type: ignore[arg-type,return-value]
    assert guard.allows("192.168.1.9:8000", ("192.168.1.9", 8000))
    assert guard.allows("172.17.0.2:8000", ("172.17.0.2", 8000))  # 0.0.0.0 in a container
    assert guard.allows("[fe80::1]:8000", ("fe80::1", 8000))
    assert not guard.allows("monitor.internal:8000", ("172.17.0.2", 8000))


def test_the_server_limits_default_to_the_settings_defaults() -> None:
    assert Limits.of(settings()) == Limits()
    assert Limits.of(settings(http_header_timeout="3s")).header_timeout == 3.0


def test_the_setting_is_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_HTTP_ALLOWED_HOSTS", "monitor.example.org, localhost:8000")
    assert settings().http_allowed_hosts == ["monitor.example.org", "localhost:8000"]
    assert settings(http_allowed_hosts=[]).http_allowed_hosts == []


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/silences", "GET, HEAD, POST"),
        ("/signin", "GET, HEAD, POST"),
        ("/indicators", "GET, HEAD"),
        ("/silences/1/end", "POST"),
    ],
)
def test_a_405_names_every_method_the_address_answers(
    store: Store, defs: Definitions, path: str, allowed: str
) -> None:
    """`Allow` lists what the address answers (RFC 9110), over every route at it: GET and POST
    of /silences are two routes, and the answer named only the first's (`GET`), telling a
    tool that POST /silences does not work; HEAD is answered wherever GET is."""
    app = create_app(
        store=store, definitions=lambda: defs, settings=settings(api_token="t"), clock=lambda: NOW
    )
    with (
        WebServer(app, host="127.0.0.1", port=0) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": "Bearer t"}) as web,
    ):
        for method in ("PUT", "DELETE"):
            answer = web.request(method, path)
            assert answer.status_code == 405, (method, path)
            assert answer.headers["allow"] == allowed, (method, path)
            page = web.request(method, path, headers={"Accept": "text/html"})
            assert (page.status_code, page.headers["allow"]) == (405, allowed)
