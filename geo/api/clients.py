"""Who sent a request: the peer address, or what a trusted reverse proxy saw.

``X-Forwarded-For`` is believed only from a peer listed in ``GEO_TRUSTED_PROXIES``, so a
client cannot choose its own address (and with it its rate limit).
"""

from __future__ import annotations

import ipaddress

from starlette.types import Scope

from geo.errors import InputError

_proxy_cache: dict[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]] = {}


def trusted_networks(setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse ``GEO_TRUSTED_PROXIES`` (comma-separated addresses or networks)."""
    nets = _proxy_cache.get(setting)
    if nets is None:
        try:
            nets = tuple(
                ipaddress.ip_network(p.strip(), strict=False) for p in setting.split(",") if p.strip()
            )
        except ValueError as exc:
            raise InputError(
                f"setting trusted_proxies={setting!r}: give addresses or networks, e.g. 127.0.0.1,10.0.0.0/8"
            ) from exc
        _proxy_cache[setting] = nets
    return nets


def _trusted(address: str, nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in nets)


def client_address(scope: Scope, trusted_proxies: str = "") -> str:
    """Return the address of the client that sent a request.

    The peer of the connection, unless the peer is one of ``trusted_proxies``: then the
    rightmost ``X-Forwarded-For`` entry that is not itself a trusted proxy (what the
    nearest trusted proxy saw). A header from any other peer is ignored, so a client
    cannot choose its own address. (Run uvicorn with ``--no-proxy-headers``, as ``make
    run`` does, so the peer is the real one.)

    Returns
    -------
    str
        The address, or ``""`` when the server does not know the peer (a Unix socket).
    """
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    nets = trusted_networks(trusted_proxies)
    if not nets or not _trusted(peer, nets):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            forwarded += [v.strip() for v in value.decode("latin-1").split(",")]
    for hop in reversed(forwarded):
        if hop and not _trusted(hop, nets):
            return hop
    return peer
