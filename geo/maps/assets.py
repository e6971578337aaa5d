"""Vendored web assets: local copies of folium's CDN files, and standalone HTML export.

Offline, ``st_folium`` stops at the first script that fails to load and the map stays
blank, so every map element's ``default_js``/``default_css`` is pointed at ``static/``.
"""

from __future__ import annotations

import base64
import functools
import mimetypes
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import branca.colormap
import folium
import folium.plugins
from branca.element import CssLink, Element, Figure, JavascriptLink
from folium.elements import JSCSSMixin

from geo.errors import MapAssetError

STATIC_URL_PREFIX: Final = "/app/static"
"""URL under which Streamlit serves ``./static`` (``enableStaticServing``); prefix it with
``server.baseUrlPath`` when one is set."""

STATIC_DIR: Final = Path(__file__).resolve().parents[2] / "static"
"""The app's static folder holding the vendored web assets (``static/vendor``)."""


MAX_PAYLOAD_BYTES: Final = 3_000_000
"""Largest rendered map (see :func:`payload_bytes`) a page should send to the browser."""


# ---------------------------------------------------------------------------------------
# Vendored assets


@dataclass(frozen=True)
class LocalAsset:
    """A vendored copy of one of folium's CDN assets.

    Attributes
    ----------
    cdn_filename : str
        Last path segment of the CDN URL this copy replaces; checked so that two folium
        elements using the same asset *name* for different files are not confused.
    path : str
        Path of the copy relative to :data:`STATIC_DIR`.
    """

    cdn_filename: str
    path: str


JS_ASSETS: Final[Mapping[str, LocalAsset]] = {
    "leaflet": LocalAsset("leaflet.js", "vendor/leaflet/1.9.3/leaflet.js"),
    "leaflet_imagepath": LocalAsset("leaflet-imagepath.js", "js/leaflet-imagepath.js"),
    "jquery": LocalAsset("jquery-3.7.1.min.js", "vendor/jquery/3.7.1/jquery.min.js"),
    "markerclusterjs": LocalAsset(
        "leaflet.markercluster.js", "vendor/leaflet.markercluster/1.1.0/leaflet.markercluster.js"
    ),
}
"""folium script names (as in ``default_js``) with a local copy."""

CSS_ASSETS: Final[Mapping[str, LocalAsset]] = {
    "leaflet_css": LocalAsset("leaflet.css", "vendor/leaflet/1.9.3/leaflet.css"),
    "markerclustercss": LocalAsset(
        "MarkerCluster.css", "vendor/leaflet.markercluster/1.1.0/MarkerCluster.css"
    ),
    "markerclusterdefaultcss": LocalAsset(
        "MarkerCluster.Default.css", "vendor/leaflet.markercluster/1.1.0/MarkerCluster.Default.css"
    ),
}
"""folium stylesheet names (as in ``default_css``) with a local copy."""

_IMAGEPATH_NAME: Final = "leaflet_imagepath"

# folium.Map lists these for folium.Icon (bootstrap glyphicons / Font Awesome / awesome
# markers) only. This app draws CircleMarkers, so they are dropped rather than vendored
# (≈ 1 MB); localize_assets refuses maps that contain a folium.Icon instead.
_ICON_ASSET_NAMES: Final = frozenset(
    {
        "bootstrap",
        "awesome_markers",
        "bootstrap_css",
        "glyphicons_css",
        "awesome_markers_font_css",
        "awesome_markers_css",
        "awesome_rotate_css",
    }
)


# ---------------------------------------------------------------------------------------
# Asset localisation


def _walk(element: Element) -> Iterator[Element]:
    """Yield ``element`` and all its descendants (children and Popup parts), once each."""
    seen: set[int] = set()
    stack = [element]
    while stack:
        el = stack.pop()
        if id(el) in seen:
            continue
        seen.add(id(el))
        yield el
        stack.extend(reversed(list(el._children.values())))
        # Popup keeps its content in separate Element containers, not in _children.
        stack.extend(
            part
            for attr in ("header", "html", "script")
            if isinstance(part := getattr(el, attr, None), Element)
        )


def _map_prefix(m: folium.Map) -> str | None:
    """Return the prefix the map's assets were localized with, or None if not yet."""
    suffix = "/" + JS_ASSETS["leaflet"].path
    for name, url in m.default_js:
        if name == "leaflet" and url.endswith(suffix) and not url.startswith(("http://", "https://")):
            return url[: -len(suffix)]
    return None


def _local_url(element: Element, name: str, url: str, table: Mapping[str, LocalAsset], prefix: str) -> str:
    asset = table.get(name)
    filename = url.split("?", 1)[0].rsplit("/", 1)[-1]
    if asset is None or not (filename == asset.cdn_filename or url.endswith("/" + asset.path)):
        raise MapAssetError(
            f"map element {type(element).__name__} needs web asset {name!r} ({url}), which has no "
            f"local copy: this map would stay blank offline. Vendor it under static/vendor/ "
            f"(npm pack, licence beside it) and register it in geo.maps.JS_ASSETS/CSS_ASSETS, "
            f"or do not use {type(element).__name__}."
        )
    return f"{prefix}/{asset.path}"


def _check_unsupported(element: Element) -> None:
    if isinstance(element, branca.colormap.ColorMap):
        raise MapAssetError(
            "a branca ColorMap is on the map: st_folium then loads web asset 'd3' from a public "
            "URL and the map stays blank offline. Colour with the ColorMap inside a style function "
            "and draw the legend with geo.maps.add_legend."
        )
    if isinstance(element, folium.Icon):
        raise MapAssetError(
            "a folium.Icon is on the map: it needs web assets 'awesome_markers', 'bootstrap' and "
            "glyphicons/Font Awesome, which are not vendored. Draw points with geo.maps.add_points "
            "(circle markers) or vendor those assets first."
        )
    if isinstance(element, folium.plugins.FastMarkerCluster) and "AwesomeMarkers" in element.callback:
        raise MapAssetError(
            "a FastMarkerCluster uses its default callback, which needs web asset 'awesome_markers' "
            "(not vendored). Use geo.maps.add_points, or pass a callback returning L.circleMarker."
        )


def localize_assets(m: folium.Map, prefix: str = STATIC_URL_PREFIX) -> folium.Map:
    """Point every script and stylesheet of a map at the vendored local copies.

    Call it after the last layer is added (the builders of this module call it
    themselves once a map is localized, so it is only needed for elements added by
    other code). It is idempotent and may be called again with another prefix.

    Each element gets its own ``default_js``/``default_css`` lists (instance
    attributes); folium's class attributes, shared by every map, are never changed.
    The Map's icon assets (bootstrap, awesome markers, glyphicons, Font Awesome) are
    dropped, and ``js/leaflet-imagepath.js`` is inserted right after ``leaflet.js``.

    Parameters
    ----------
    m : folium.Map
        The map, with all its layers.
    prefix : str, default :data:`STATIC_URL_PREFIX`
        URL at which ``./static`` is served, without trailing slash.

    Returns
    -------
    folium.Map
        ``m`` itself, changed in place.

    Raises
    ------
    MapAssetError
        When an element needs an asset without a local copy (naming element and asset),
        or when the map holds an element that would load one at display time (a branca
        ColorMap, a ``folium.Icon``, a FastMarkerCluster with its default callback).
    """
    prefix = prefix.rstrip("/")
    elements = list(_walk(m))
    for el in elements:
        _check_unsupported(el)

    seen_names: set[str] = set(_ICON_ASSET_NAMES)
    for el in elements:
        if not isinstance(el, JSCSSMixin):
            continue
        js: list[tuple[str, str]] = []
        for name, url in el.default_js:
            seen_names.add(name)
            if name == _IMAGEPATH_NAME or (isinstance(el, folium.Map) and name in _ICON_ASSET_NAMES):
                continue  # the imagepath script is re-inserted after leaflet below
            js.append((name, _local_url(el, name, url, JS_ASSETS, prefix)))
            if name == "leaflet":
                js.append((_IMAGEPATH_NAME, f"{prefix}/{JS_ASSETS[_IMAGEPATH_NAME].path}"))
        css: list[tuple[str, str]] = []
        for name, url in el.default_css:
            seen_names.add(name)
            if isinstance(el, folium.Map) and name in _ICON_ASSET_NAMES:
                continue
            css.append((name, _local_url(el, name, url, CSS_ASSETS, prefix)))
        # Instance attributes: the class lists stay as folium ships them.
        el.default_js = js
        el.default_css = css

    # A render before this call left CDN links in the figure's header (keyed by asset
    # name); drop them, the next render adds the local ones.
    root = m.get_root()
    if isinstance(root, Figure):
        for key, child in list(root.header._children.items()):
            if not isinstance(child, JavascriptLink | CssLink) or child.url.startswith(prefix + "/"):
                continue
            if key in seen_names:
                del root.header._children[key]
            else:
                raise MapAssetError(
                    f"the page header links web asset {key!r} ({child.url}), which has no local copy; "
                    "vendor it under static/vendor/ or remove the link."
                )
    return m


def _relocalize(m: folium.Map) -> None:
    """Localize newly added elements when the map was localized before."""
    prefix = _map_prefix(m)
    if prefix is not None:
        localize_assets(m, prefix)


# ---------------------------------------------------------------------------------------
# Output


def payload_bytes(m: folium.Map) -> int:
    """Return the size of the rendered map page in bytes (UTF-8).

    Parameters
    ----------
    m : folium.Map
        The map.

    Returns
    -------
    int
        ``len(m.get_root().render())`` in bytes; pages should keep it at most
        :data:`MAX_PAYLOAD_BYTES`. Linked scripts are not counted.
    """
    return len(m.get_root().render().encode("utf-8"))


@functools.cache
def _read_asset(path: str) -> bytes:
    """Read one vendored web asset from :data:`STATIC_DIR`.

    Only :mod:`geo.store` touches project *data* files; these are the app's own packaged
    web assets (static/vendor, static/js), read here solely to inline them into a
    standalone HTML export that must work opened from disk, with no server and no
    internet.
    """
    full = (STATIC_DIR / path).resolve()
    if not full.is_relative_to(STATIC_DIR) or not full.is_file():
        raise MapAssetError(
            f"web asset {path!r} is missing under {STATIC_DIR}; restore static/ from the repository"
        )
    return full.read_bytes()


# How branca renders JavascriptLink and CssLink.
_ASSET_TAG: Final = re.compile(r'<script src="([^"]+)"></script>|<link rel="stylesheet" href="([^"]+)"/>')
_CSS_URL: Final = re.compile(r"""url\((['"]?)([^)'"]+)\1\)""")
_SOURCE_MAP: Final = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)


def _inline_css(path: str) -> str:
    css = _read_asset(path).decode("utf-8")
    folder = path.rsplit("/", 1)[0] if "/" in path else ""

    def embed(match: re.Match[str]) -> str:
        ref = match.group(2)
        if ref.startswith(("#", "data:", "http:", "https:", "/")):
            return match.group(0)
        target = f"{folder}/{ref}" if folder else ref
        mime = mimetypes.guess_type(target)[0] or "application/octet-stream"
        data = base64.b64encode(_read_asset(target)).decode("ascii")
        return f'url("data:{mime};base64,{data}")'

    return _CSS_URL.sub(embed, css).replace("</style", "<\\/style")


def _inline_js(path: str) -> str:
    js = _read_asset(path).decode("utf-8")
    js = _SOURCE_MAP.sub("", js)  # the .map files are not vendored
    # Inside an inline <script>, "</script" would end it and "<!--" changes parsing.
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE).replace("<!--", "<\\!--")


def map_html(m: folium.Map, *, prefix: str = STATIC_URL_PREFIX) -> str:
    """Export the map as one standalone HTML file that works offline, opened from disk.

    The vendored scripts and stylesheets are inlined (stylesheet images as data URIs),
    so the file needs neither the Streamlit server nor the internet (tiles excepted).

    Parameters
    ----------
    m : folium.Map
        The map; its assets are localized first (:func:`localize_assets`).
    prefix : str, default :data:`STATIC_URL_PREFIX`
        Prefix the assets are localized with before being inlined.

    Returns
    -------
    str
        The complete HTML document.

    Raises
    ------
    MapAssetError
        When an asset has no local copy or a vendored file is missing.
    """
    prefix = prefix.rstrip("/")
    localize_assets(m, prefix)
    page = m.get_root().render()
    start = prefix + "/"

    def inline(match: re.Match[str]) -> str:
        js_url, css_url = match.group(1), match.group(2)
        url = js_url or css_url
        if not url.startswith(start):
            raise MapAssetError(f"{url} is not a local asset and cannot be inlined; vendor it under static/")
        if js_url:
            return "<script>" + _inline_js(url[len(start) :]) + "</script>"
        return "<style>" + _inline_css(url[len(start) :]) + "</style>"

    # One pass, so text inside inlined files is never taken for another tag.
    return _ASSET_TAG.sub(inline, page)
