"""The API's loaded state: settings, the station index of the dataset in use, report statuses.

The station index is built once per dataset version (a module-level cache keyed on
:func:`geo.store.dataset_key`, re-checked at most once per :data:`KEY_TTL_S` seconds),
never per request; the first build runs in a worker thread so the event loop (which also
serves the app) keeps going. Settings are re-read at most as often.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from geo import navigation, places, reports, store
from geo.api.params import KEY_TTL_S
from geo.errors import DataMissingError, GeoError
from geo.nearest import StationIndex
from geo.settings import Settings, load_settings

_settings_cache: list[tuple[float, Settings]] = []


def settings() -> Settings:
    """Return the settings, re-read at most once per :data:`KEY_TTL_S` seconds."""
    # Reading env vars and secrets costs ~70 µs: at thousands of requests a second, re-read
    # them at most once per KEY_TTL_S.
    now = time.monotonic()
    if not _settings_cache or now - _settings_cache[0][0] > KEY_TTL_S:
        _settings_cache[:] = [(now, load_settings())]
    return _settings_cache[0][1]


@dataclass(frozen=True)
class Loaded:
    """The station index of one dataset version and what records need besides it."""

    key: str
    version: str
    index: StationIndex
    text: navigation.StationText


class _Cache:
    """One :class:`Loaded` per process, replaced when the dataset version changes."""

    def __init__(self) -> None:
        self.loaded: Loaded | None = None
        self.key: str | None = None
        self.key_checked = 0.0
        self.lock = threading.Lock()
        self.gazetteer: tuple[str, places.Gazetteer] | None = None
        self.gazetteer_lock = threading.Lock()

    def current_key(self, data_dir: Path) -> str:
        now = time.monotonic()
        if self.key is None or now - self.key_checked > KEY_TTL_S:
            self.key = store.dataset_key(data_dir)
            self.key_checked = now
        return self.key

    def get_fast(self, data_dir: Path) -> Loaded | None:
        """Return the loaded dataset if it is current (no I/O most of the time), else ``None``."""
        key = self.current_key(data_dir)
        loaded = self.loaded
        return loaded if loaded is not None and loaded.key == key else None

    def load(self, data_dir: Path) -> Loaded:
        """Build (or return) the index of the current version; runs in a worker thread."""
        with self.lock:
            key = store.dataset_key(data_dir)
            self.key, self.key_checked = key, time.monotonic()
            if self.loaded is not None and self.loaded.key == key:
                return self.loaded
            if key.endswith("|empty"):
                raise DataMissingError(
                    f"no dataset in {data_dir}: run `python -m geo generate --data-dir {data_dir}`"
                )
            navigation.check_in_china(39.9, 116.4)  # builds the China outline once, here off the loop
            stations = store.read_table(data_dir, "stations")
            version = str(store.read_manifest(data_dir).get("dataset_version", ""))
            self.loaded = Loaded(
                key=key,
                version=version,
                index=StationIndex.from_frame(stations),
                text=navigation.StationText.from_frame(stations),
            )
            # Place search needs a gazetteer that takes seconds to build: start it now, in
            # the background, rather than on a courier's first search.
            threading.Thread(target=self._warm_places, args=(data_dir,), daemon=True).start()
            return self.loaded

    def _warm_places(self, data_dir: Path) -> None:
        with contextlib.suppress(GeoError, OSError):
            self.places(data_dir)

    def places(self, data_dir: Path) -> places.Gazetteer:
        """Return the gazetteer with the current stations (built on first use, ~3 s); worker thread."""
        with self.gazetteer_lock:
            key = store.dataset_key(data_dir)
            if self.gazetteer is None or self.gazetteer[0] != key:
                stations = store.read_table(data_dir, "stations")
                cols = [
                    c for c in ("station_id", "name", "address", "lat", "lng", "province") if c in stations
                ]
                self.gazetteer = (key, places.base_gazetteer().with_stations(stations[cols]))
            return self.gazetteer[1]


_CACHE = _Cache()


async def dataset(data_dir: Path) -> Loaded:
    """Return the loaded dataset of ``data_dir``, building it off the event loop when needed."""
    loaded = _CACHE.get_fast(data_dir)
    if loaded is None:
        loaded = await run_in_threadpool(_CACHE.load, data_dir)
    return loaded


def warm(data_dir: Path | None = None) -> None:
    """Build the index and the China outline now (e.g. at start-up) instead of on first request."""
    _CACHE.load(data_dir or settings().data_dir)


_boards: dict[Path, reports.StatusBoard] = {}
_boards_lock = threading.Lock()


def status_board(data_dir: Path) -> reports.StatusBoard:
    """Return this process's :class:`geo.reports.StatusBoard` of ``data_dir``."""
    board = _boards.get(data_dir)
    if board is None:
        with _boards_lock:
            board = _boards.setdefault(data_dir, reports.StatusBoard(data_dir))
    return board


def with_status(records: list[dict[str, Any]], data_dir: Path) -> list[dict[str, Any]]:
    """Add each record's live ``status`` (reports of the last 48 h) from the status board."""
    statuses = status_board(data_dir).statuses()
    for rec in records:
        rec["status"] = statuses.get(rec["station_id"], reports.EMPTY_STATUS)
    return records
