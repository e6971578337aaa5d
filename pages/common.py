"""What every page shares: settings, language, dataset loading and the cached wrappers.

Caches key on plain values (data directory and dataset version key), never on
GeoDataFrames. Big read-only tables and the station index are held once per process
with ``st.cache_resource``; pages must not modify what these return.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from geo import i18n, store
from geo.settings import Settings, load_settings


@st.cache_resource
def _settings_cached(secrets_items: tuple[tuple[str, Any], ...]) -> Settings:
    return load_settings(dict(secrets_items))


def settings() -> Settings:
    """Return the settings (env vars over ``[geo]`` in ``.streamlit/secrets.toml``)."""
    try:
        section = dict(st.secrets.get("geo", {}))
    except (FileNotFoundError, KeyError, AttributeError):
        section = {}
    return _settings_cached(tuple(sorted((k, v) for k, v in section.items() if not isinstance(v, dict))))


def data_dir() -> Path:
    """Return the data directory in use."""
    return settings().data_dir


def lang() -> str:
    """Return the UI language chosen in the sidebar (``zh`` by default)."""
    return str(st.session_state.get("lang", i18n.DEFAULT_LANG))


def tr(key: str, **fmt: Any) -> str:  # noqa: ANN401
    """Translate ``key`` into the current language."""
    return i18n.t(key, lang(), **fmt)


def data_key() -> str:
    """Return the cache key of the dataset in use (changes on import / rollback)."""
    return store.dataset_key(data_dir())


def manifest() -> dict[str, Any]:
    """Return the manifest of the dataset in use."""
    return _manifest_cached(data_key(), str(data_dir()))


@st.cache_data(show_spinner=False)
def _manifest_cached(key: str, directory: str) -> dict[str, Any]:
    return store.read_manifest(Path(directory))


@st.cache_resource(show_spinner=False, max_entries=4)
def table(key: str, directory: str, name: str) -> pd.DataFrame:
    """Return one stored table of the dataset ``key`` (shared, read-only)."""
    return store.read_table(Path(directory), name)


def stations() -> pd.DataFrame:
    """Return the stations table of the dataset in use (read-only)."""
    return table(data_key(), str(data_dir()), "stations")


def workplaces() -> pd.DataFrame:
    """Return the workplaces table of the dataset in use (read-only)."""
    return table(data_key(), str(data_dir()), "workplaces")


@st.cache_resource(show_spinner=False, max_entries=4)
def _station_index(key: str, directory: str) -> Any:  # noqa: ANN401 - geo.nearest.StationIndex
    from geo.nearest import StationIndex

    return StationIndex.from_frame(table(key, directory, "stations"))


def station_index() -> Any:  # noqa: ANN401 - geo.nearest.StationIndex
    """Return the one station index of the dataset in use (built once, cached)."""
    return _station_index(data_key(), str(data_dir()))


def dataset_caption() -> None:
    """Show which dataset is in use, labelling demo data clearly (演示数据)."""
    m = manifest()
    source = m.get("source", {})
    if source.get("kind") == "demo":
        st.caption(f"🧪 **{tr('app.demo_badge')}**")
    else:
        st.caption(tr("app.imported_badge", file=str(source.get("file", "?"))))
    st.caption(tr("app.dataset", version=m.get("dataset_version", "?"), created=m.get("created", "?")[:16]))


def credit() -> None:
    """Show the data credits (Tianditu boundaries, GeoNames places)."""
    st.caption(tr("app.credit"))


# ---- cached wrappers of geo computations (one place for all pages) ----------------------------
