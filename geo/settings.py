"""Typed settings read from environment variables, with defaults.

One object holds every tunable (data directory, radii, privacy threshold, tiles, engine).
Environment variables win over ``.streamlit/secrets.toml`` values passed in by the app,
which win over the defaults here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from geo.errors import InputError

WALK_KMH = 4.5
"""Walking speed used for travel-time estimates, km/h."""
RIDE_KMH = 15.0
"""E-bike speed used for travel-time estimates, km/h."""
DETOUR_FACTOR = 1.3
"""Street distance / great-circle distance assumed by travel-time estimates."""


@dataclass(frozen=True)
class Settings:
    """Everything the library and the app can be configured with.

    Attributes
    ----------
    data_dir : Path
        Where datasets, versions and the reports database live (``GEO_DATA_DIR``).
    coverage_radius_m : float
        Default service radius of a station in metres (``GEO_COVERAGE_RADIUS_M``).
    k_anonymity : int
        Figures below this many people are suppressed (``GEO_K_ANONYMITY``).
    tiles : str
        Base map tiles: ``none`` (offline, default), ``osm``, ``tianditu`` or ``amap`` (``GEO_TILES``).
    tianditu_key : str
        Key for Tianditu tiles (``GEO_TIANDITU_KEY``).
    engine : str
        Aggregation engine: ``duckdb`` (default) or ``dask`` (``GEO_ENGINE``).
    dask_scheduler : str
        Address of a Dask scheduler, empty for a local cluster (``GEO_DASK_SCHEDULER``).
    max_upload_mb : int
        Largest accepted import file in MB (``GEO_MAX_UPLOAD_MB``).
    max_import_rows : int
        Largest accepted import in rows (``GEO_MAX_IMPORT_ROWS``).
    access_log : bool
        Log every HTTP request of the server (``GEO_ACCESS_LOG=1``); off by default, as
        Streamlit would otherwise log each request despite ``uvicorn --no-access-log``.
    demo_admin : str
        ``local``: with no users configured, a browser on this computer (a loopback TCP
        peer, no proxy headers) may manage data as ``local-demo``; empty (default) or
        ``off``: data management needs a signed-in admin or planner (``GEO_DEMO_ADMIN``).
    allowed_hosts : tuple of str
        Host names the server answers to (``GEO_ALLOWED_HOSTS``, comma-separated); empty
        (default) = ``localhost``, ``127.0.0.1``, ``[::1]`` and this machine's own names and
        addresses. ``*.example.cn`` allows sub-domains; ``*`` alone allows any host.
    session_idle_min : float
        A password sign-in ends after this many minutes without use (``GEO_SESSION_IDLE_MIN``).
    session_max_h : float
        A password sign-in ends this many hours after it began, used or not (``GEO_SESSION_MAX_H``).
    """

    data_dir: Path = Path("data")
    coverage_radius_m: float = 1000.0
    k_anonymity: int = 10
    tiles: str = "none"
    tianditu_key: str = ""
    engine: str = "duckdb"
    dask_scheduler: str = ""
    max_upload_mb: int = 50
    max_import_rows: int = 1_000_000
    access_log: bool = False
    # ---- sign-in and hosts (geo/auth.py, geo/hosts.py) ----
    demo_admin: str = ""
    allowed_hosts: tuple[str, ...] = ()
    session_idle_min: float = 30.0
    session_max_h: float = 12.0
    # ---- end sign-in and hosts ----

    def with_overrides(self, **kwargs: Any) -> Settings:  # noqa: ANN401 - typed per field
        """Return a copy with the given fields replaced (``None`` values are ignored)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update({k: v for k, v in kwargs.items() if v is not None})
        return _coerce(values)


_TILES = ("none", "osm", "tianditu", "amap")
_ENGINES = ("duckdb", "dask")


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(value)


_HOST_RE = re.compile(r"^(\*|(\*\.)?[a-z0-9_.\-]+|\[[0-9a-f:.]+\])$")
_DEMO_ADMIN = {"": "", "off": "", "local": "local"}


def _hosts(value: str | Iterable[object]) -> tuple[str, ...]:
    """Host names from ``"a.cn, b.cn"`` (env) or a list (secrets), lower case, checked."""
    items = re.split(r"[,\s]+", value) if isinstance(value, str) else [str(v) for v in value]
    hosts = tuple(h.strip().lower().rstrip(".") for h in items if h.strip())
    bad = [h for h in hosts if not _HOST_RE.match(h)]
    if bad:
        raise ValueError(", ".join(bad))
    return hosts


def _coerce(values: Mapping[str, Any]) -> Settings:
    types = {f.name: f.type for f in fields(Settings)}
    out: dict[str, Any] = {}
    for name, value in values.items():
        kind = types[name]
        try:
            if kind == "Path":
                out[name] = Path(value)
            elif kind == "float":
                out[name] = float(value)
            elif kind == "int":
                out[name] = int(value)
            elif kind == "bool":
                out[name] = _bool(value)
            elif kind == "tuple[str, ...]":
                out[name] = _hosts(value)
            else:
                out[name] = str(value)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"setting {name}={value!r} is not a valid {kind}; fix GEO_{name.upper()}"
            ) from exc
    s = Settings(**out)
    if s.tiles not in _TILES:
        raise InputError(f"setting tiles={s.tiles!r}: choose one of {', '.join(_TILES)}")
    if s.engine not in _ENGINES:
        raise InputError(f"setting engine={s.engine!r}: choose one of {', '.join(_ENGINES)}")
    if s.k_anonymity < 1:
        raise InputError("setting k_anonymity must be at least 1")
    if s.coverage_radius_m <= 0:
        raise InputError("setting coverage_radius_m must be positive")
    if s.demo_admin.strip().lower() not in _DEMO_ADMIN:
        raise InputError(
            f"setting GEO_DEMO_ADMIN={s.demo_admin!r}: use 'local' (this computer only) or leave it unset"
        )
    for name in ("session_idle_min", "session_max_h"):
        if getattr(s, name) <= 0:
            raise InputError(f"setting {name} must be positive; fix GEO_{name.upper()}")
    s = replace(s, demo_admin=_DEMO_ADMIN[s.demo_admin.strip().lower()])
    return s


def load_settings(secrets: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from defaults, then ``secrets`` (e.g. ``st.secrets``), then env vars.

    Parameters
    ----------
    secrets : mapping, optional
        Values by field name (as in ``.streamlit/secrets.toml`` under ``[geo]``).
    env : mapping, optional
        Environment to read ``GEO_*`` variables from; defaults to :data:`os.environ`.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {f.name: getattr(Settings(), f.name) for f in fields(Settings)}
    for name in values:
        if secrets and name in secrets:
            values[name] = secrets[name]
        key = f"GEO_{name.upper()}"
        if env.get(key):
            values[name] = env[key]
    return _coerce(values)
