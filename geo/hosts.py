"""Which Host names the server answers to, and whether a connection comes from this computer.

:class:`HostCheck` is an ASGI middleware in front of the whole server (Streamlit app, JSON
API, courier app): a request whose ``Host`` header names no allowed host gets ``400``. A
web page on another site can make a browser talk to ``127.0.0.1:8501`` by pointing its
own name at that address (DNS rebinding); the browser still sends that site's name as
``Host``, which is how the check stops it.

:func:`is_loopback_peer` decides the ``GEO_DEMO_ADMIN=local`` opt-in: only a direct TCP
connection from a loopback address, addressed to a loopback name and carrying no proxy
header, counts as "this computer".
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Final

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_HOSTS: Final = ("localhost", "127.0.0.1", "[::1]")
"""Always allowed, and the only names a loopback peer may use for the local demo opt-in."""
PROXY_HEADERS: Final = frozenset(
    {
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "via",
    }
)
"""Headers that show a proxy passed the request on: the real client is then someone else."""

_NAME_RE: Final = re.compile(r"^[a-z0-9_]([a-z0-9_\-]{0,62})(\.[a-z0-9_\-]{1,63})*$")


def host_name(header: str | None) -> str | None:
    """Return the host of a ``Host`` header, lower case, without port or trailing dot.

    IPv6 addresses keep their brackets (``[::1]``). ``None`` when the header is missing
    or not a plain host name / address (user info, paths, spaces, a bad port).
    """
    text = (header or "").strip().lower()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        name, rest = text[: end + 1], text[end + 1 :]
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return None
    else:
        name, _, port = text.partition(":")
        rest = f":{port}" if _ else ""
        name = name.rstrip(".")
        if not _NAME_RE.match(name):
            return None
    if rest and not re.fullmatch(r":[0-9]{1,5}", rest):
        return None
    return name


def host_allowed(name: str | None, allowed: Iterable[str]) -> bool:
    """Return whether the host ``name`` (from :func:`host_name`) matches ``allowed``.

    Entries are exact names, ``*.example.cn`` (any sub-domain) or ``*`` (anything).
    """
    if name is None:
        return False
    for entry in allowed:
        if entry == "*" or entry == name:
            return True
        if entry.startswith("*.") and name.endswith(entry[1:]):
            return True
    return False


def default_allowed_hosts() -> tuple[str, ...]:
    """Return the loopback names plus this machine's own host names and IP addresses."""
    found = list(LOOPBACK_HOSTS)
    names = {socket.gethostname(), socket.getfqdn()}
    for name in sorted(n for n in names if n):
        found.append(name.lower().rstrip("."))
        try:
            infos = socket.getaddrinfo(name, None)
        except OSError:
            continue
        for info in infos:
            addr = str(info[4][0]).split("%")[0]
            found.append(f"[{addr}]" if ":" in addr else addr)
    try:  # the address of the default route (no packet is sent by connecting a UDP socket)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            found.append(str(s.getsockname()[0]))
    except OSError:
        pass
    return tuple(dict.fromkeys(found))


def allowed_hosts(configured: Iterable[str]) -> tuple[str, ...]:
    """Return the configured hosts (``Settings.allowed_hosts``), or the defaults when empty."""
    configured = tuple(configured)
    return configured or default_allowed_hosts()


class HostCheck:
    """ASGI middleware: answer ``400`` to any request whose ``Host`` is not allowed.

    Parameters
    ----------
    app : ASGI application
        What allowed requests go to (the whole server).
    allowed : iterable of str
        Allowed hosts, as for :func:`host_allowed` (see :func:`allowed_hosts`).
    """

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = tuple(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the host of HTTP and websocket requests; pass everything else on."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = [v for k, v in scope.get("headers", []) if k.lower() == b"host"]
        name = host_name(raw[0].decode("latin-1")) if len(raw) == 1 else None
        if host_allowed(name, self.allowed):
            await self.app(scope, receive, send)
            return
        shown = (raw[0].decode("latin-1")[:100] if raw else "").encode("ascii", "replace")
        body = (
            b"400 Bad Request: host '"
            + shown
            + b"' is not served here. If this server should answer to it, add it to "
            b"GEO_ALLOWED_HOSTS (comma-separated) and restart.\n"
        )
        if scope["type"] == "websocket":
            if "websocket.http.response" not in scope.get("extensions", {}):
                await send({"type": "websocket.close", "code": 1008})
                return
            prefix = "websocket.http.response"
        else:
            prefix = "http.response"
        await send(
            {
                "type": f"{prefix}.start",
                "status": 400,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")],
            }
        )
        await send({"type": f"{prefix}.body", "body": body})


def is_loopback_peer(remote_ip: str | None, headers: Iterable[tuple[str, str]]) -> bool:
    """Return whether a connection comes straight from this computer.

    Parameters
    ----------
    remote_ip : str or None
        The TCP peer address the server saw (``None`` or ``""`` for a Unix socket or an
        unknown peer: never local — a proxy on this computer would look just like that).
    headers : iterable of (name, value)
        The request headers. Any proxy header (:data:`PROXY_HEADERS`) means the request
        was passed on for someone else; they are never read for an address. ``Host``
        must be a loopback name (:data:`LOOPBACK_HOSTS`), so a tunnel that serves this
        port under another name does not count.
    """
    if not remote_ip:
        return False
    try:
        ip = ipaddress.ip_address(remote_ip.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_loopback:
        return False
    pairs = [(str(k).lower(), str(v)) for k, v in headers]
    if any(k in PROXY_HEADERS for k, _ in pairs):
        return False
    host_values = [v for k, v in pairs if k == "host"]
    return len(host_values) == 1 and host_name(host_values[0]) in LOOPBACK_HOSTS
