"""Host header check (DNS rebinding) and the loopback-peer test of the local demo opt-in."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from geo import hosts
from tests.aio import run_async

DEFAULTS = ("localhost", "127.0.0.1", "[::1]")


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost:8501", "localhost"),
        ("LocalHost", "localhost"),
        ("127.0.0.1:8501", "127.0.0.1"),
        ("[::1]:8501", "[::1]"),
        ("[::1]", "[::1]"),
        ("atlas.example.cn.", "atlas.example.cn"),
        ("", None),
        ("a b", None),
        ("evil.example@localhost", None),
        ("localhost:85x", None),
        ("[::1", None),
        ("localhost/x", None),
    ],
)
def test_host_header_parsing(header: str, name: str | None) -> None:
    assert hosts.host_name(header) == name


def test_allowed_hosts_patterns() -> None:
    allowed = (*DEFAULTS, "*.union.cn")
    assert hosts.host_allowed("localhost", allowed)
    assert hosts.host_allowed("[::1]", allowed)
    assert hosts.host_allowed("atlas.union.cn", allowed)
    assert not hosts.host_allowed("union.cn.evil.example", allowed)
    assert not hosts.host_allowed("attacker.example", allowed)
    assert not hosts.host_allowed(None, allowed)
    assert hosts.host_allowed("attacker.example", ("*",))  # only when written explicitly


def test_default_hosts_are_loopback_and_this_machine() -> None:
    found = hosts.default_allowed_hosts()
    assert set(DEFAULTS) <= set(found)
    assert socket.gethostname().lower() in found
    assert "*" not in found
    assert hosts.allowed_hosts(()) == found
    assert hosts.allowed_hosts(("atlas.union.cn",)) == ("atlas.union.cn",)


# ---- the middleware, driven as an ASGI server would --------------------------------------------


def call(app: Any, scope: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    sent: list[dict[str, Any]] = []
    reached: list[str] = []

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        reached.append(scope["type"])
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    run_async(app(inner)(scope, receive, send))
    return sent, reached


def scope(kind: str, host: str | None) -> dict[str, Any]:
    headers = [(b"host", host.encode())] if host is not None else []
    s = {"type": kind, "path": "/", "headers": headers, "client": ("127.0.0.1", 5555)}
    if kind == "websocket":
        s["extensions"] = {"websocket.http.response": {}}
    return s


def check(inner: Any) -> Any:
    return hosts.HostCheck(inner, DEFAULTS)


@pytest.mark.parametrize("host", ["localhost:8501", "127.0.0.1:8501", "[::1]:8501"])
def test_the_middleware_passes_allowed_hosts(host: str) -> None:
    sent, reached = call(check, scope("http", host))
    assert reached == ["http"]
    assert sent[0]["status"] == 200


@pytest.mark.parametrize("host", ["rebind.attacker.example", "rebind.attacker.example:8501", "", None])
def test_the_middleware_refuses_a_forged_host(host: str | None) -> None:
    sent, reached = call(check, scope("http", host))
    assert reached == []
    assert sent[0]["status"] == 400
    assert b"GEO_ALLOWED_HOSTS" in sent[1]["body"]
    sent, reached = call(check, scope("websocket", host))
    assert reached == []  # the Streamlit session (and its data) is never opened
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sent[0]["status"] == 400


def test_the_middleware_lets_lifespan_through() -> None:
    _, reached = call(check, {"type": "lifespan"})
    assert reached == ["lifespan"]


# ---- the real server: uvicorn asgi:app, as `make run` starts it --------------------------------


@pytest.fixture(scope="module")
def server(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    from tests.e2e.conftest import free_port, start_server

    port = free_port()
    log = tmp_path_factory.mktemp("hosts") / "server.log"
    proc = start_server(demo_data_dir, port, log)
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def get(port: int, path: str, host: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", host)
    conn.endheaders()
    status = conn.getresponse().status
    conn.close()
    return status


@pytest.mark.parametrize("path", ["/", "/_stcore/health", "/api/v1/health", "/m/"])
def test_the_served_app_refuses_a_forged_host(server: int, path: str) -> None:
    assert get(server, path, "rebind.attacker.example") == 400
    assert get(server, path, f"rebind.attacker.example:{server}") == 400


@pytest.mark.parametrize("path", ["/", "/_stcore/health"])
def test_the_served_app_answers_its_own_host(server: int, path: str) -> None:
    assert get(server, path, f"localhost:{server}") == 200
    assert get(server, path, f"127.0.0.1:{server}") == 200


# ---- the local demo opt-in: who counts as "this computer" --------------------------------------


@pytest.mark.parametrize(
    ("peer", "headers", "local"),
    [
        ("127.0.0.1", [("host", "localhost:8501")], True),
        ("127.0.0.1", [("host", "127.0.0.1:8501")], True),
        ("::1", [("host", "[::1]:8501")], True),
        ("::ffff:127.0.0.1", [("host", "localhost:8501")], True),
        (None, [("host", "localhost:8501")], False),  # Unix socket / no peer known
        ("", [("host", "localhost:8501")], False),
        ("192.168.1.7", [("host", "localhost:8501")], False),
        ("127.0.0.1", [("host", "localhost"), ("X-Forwarded-For", "127.0.0.1")], False),  # a proxy
        ("127.0.0.1", [("host", "localhost"), ("forwarded", "for=127.0.0.1")], False),
        ("127.0.0.1", [("host", "localhost"), ("x-real-ip", "127.0.0.1")], False),
        ("127.0.0.1", [("host", "atlas.union.cn")], False),  # a tunnel serving a public name
        ("127.0.0.1", [], False),
        ("not an ip", [("host", "localhost")], False),
    ],
)
def test_loopback_peer(peer: str | None, headers: list[tuple[str, str]], local: bool) -> None:
    assert hosts.is_loopback_peer(peer, headers) is local
