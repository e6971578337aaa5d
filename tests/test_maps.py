"""Tests of geo.maps: offline assets, escaping, legends, hexes, points and export."""

from __future__ import annotations

import copy
import html
import json
import re
from pathlib import Path

import branca.colormap
import folium
import folium.plugins
import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from branca.element import Element
from folium.elements import JSCSSMixin
from hypothesis import given
from hypothesis import strategies as st

from geo import maps
from geo.errors import GeoError, InputError, MapAssetError

STATIC = Path(__file__).resolve().parent.parent / "static"
PREFIX = "/app/static"

# Snapshot of folium's class-level asset lists, taken at import, before any test runs.
CLASS_ASSETS = {
    cls: (copy.deepcopy(cls.default_js), copy.deepcopy(cls.default_css))
    for cls in (folium.Map, folium.plugins.MarkerCluster, folium.plugins.FastMarkerCluster)
}

XSS = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    "`${alert(1)}`",
    "\\x3cimg src=x onerror=alert(2)\\x3e",
]
ESCAPED_IMG = "&lt;img src=x onerror=alert(1)&gt;"

SCRIPT_SRC = re.compile(r"""<script\b[^>]*\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
LINK_HREF = re.compile(r"""<link\b[^>]*\bhref\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def decode_js_escapes(text: str) -> str:
    """Undo the \\uXXXX escapes of JSON embedded in scripts, as the browser will."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def walk(el: Element):
    yield el
    for child in el._children.values():
        yield from walk(child)


def st_folium_links(m: folium.Map) -> tuple[list[str], list[str]]:
    """The js/css URLs st_folium will load: default_js/css of every JSCSSMixin in the tree."""
    js: list[str] = []
    css: list[str] = []
    for el in walk(m):
        if isinstance(el, JSCSSMixin):
            js += [u for _, u in el.default_js]
            css += [u for _, u in el.default_css]
    return list(dict.fromkeys(js)), list(dict.fromkeys(css))


def assert_local(url: str) -> None:
    assert url.startswith(PREFIX + "/"), url
    assert (STATIC / url[len(PREFIX) + 1 :]).is_file(), f"{url} has no file under static/"


@pytest.fixture
def regions() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "name": ["北京市", XSS[0], XSS[1], "天津市"],
            "stations": [120.0, 30.0, np.nan, 75.0],
        },
        geometry=[
            shapely.box(116.0, 39.5, 116.8123456789, 40.3),
            shapely.box(117.0, 39.0, 117.5, 39.5),
            shapely.box(115.0, 38.0, 115.5, 38.5),
            shapely.box(117.5, 38.9, 118.0, 39.3),
        ],
        crs="EPSG:4326",
    )


@pytest.fixture
def stations() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 40
    names = [f"驿站{i}" for i in range(n)]
    names[:4] = XSS
    return pd.DataFrame(
        {
            "lat": rng.uniform(39.5, 40.3, n),
            "lng": rng.uniform(116.0, 116.8, n),
            "name": names,
            "address": [f"地址 {i} 号" for i in range(n)],
        }
    )


def many_points(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "lat": rng.uniform(22.0, 45.0, n),
            "lng": rng.uniform(100.0, 122.0, n),
            "name": [XSS[i % len(XSS)] if i < 8 else f"站{i}" for i in range(n)],
        }
    )


@pytest.fixture
def full_map(regions: gpd.GeoDataFrame, stations: pd.DataFrame) -> folium.Map:
    m = maps.base_map(39.9, 116.4, 8)
    maps.add_boundaries(m, regions, name=XSS[0])
    maps.add_choropleth(m, regions, "stations", legend_title="驿站数")
    cells = h3.grid_disk(h3.latlng_to_cell(39.9, 116.4, 7), 1)
    maps.add_hexes(m, pd.DataFrame({"h3": cells, "n": range(len(cells))}), "n", legend_title="人数")
    maps.add_points(m, stations, popup_cols={"name": "名称", "address": "地址"}, tooltip_col="name")
    maps.add_points(m, many_points(1_500), tooltip_col="name", name="全部驿站")
    folium.LayerControl().add_to(m)
    return maps.localize_assets(m)


# ---------------------------------------------------------------------------------------
# Offline assets


def test_rendered_page_loads_scripts_and_styles_only_from_local_static(full_map: folium.Map) -> None:
    page = full_map.get_root().render()
    urls = SCRIPT_SRC.findall(page) + LINK_HREF.findall(page)
    assert urls, "the page links no scripts at all: rendering changed"
    for url in urls:
        assert not re.match(r"(https?:)?//", url), f"CDN link left: {url}"
        assert_local(url)
    assert any(u.endswith("leaflet.js") for u in urls)
    assert any(u.endswith("leaflet.markercluster.js") for u in urls)


def test_assets_st_folium_loads_are_local_and_imagepath_follows_leaflet(full_map: folium.Map) -> None:
    js, css = st_folium_links(full_map)
    for url in js + css:
        assert_local(url)
    leaflet = next(i for i, u in enumerate(js) if u.endswith("/leaflet.js"))
    assert js[leaflet + 1] == f"{PREFIX}/js/leaflet-imagepath.js"
    assert js.count(f"{PREFIX}/js/leaflet-imagepath.js") == 1
    # icon assets folium.Map lists by default are dropped, not fetched
    assert not any(re.search(r"bootstrap|awesome|fontawesome|glyphicons", u) for u in js + css)


def test_localize_leaves_folium_class_attributes_untouched(full_map: folium.Map) -> None:
    for cls, (js, css) in CLASS_ASSETS.items():
        assert cls.default_js == js, cls
        assert cls.default_css == css, cls
    fresh = folium.Map(location=[30.0, 110.0])
    folium.CircleMarker([30.0, 110.0]).add_to(fresh)
    page = fresh.get_root().render()
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in page
    assert all(url.startswith("https://") for _, url in folium.Map.default_js)


def test_localize_is_idempotent_and_can_change_prefix(full_map: folium.Map) -> None:
    maps.localize_assets(full_map)
    maps.localize_assets(full_map, "/base/app/static/")
    js, css = st_folium_links(full_map)
    assert all(u.startswith("/base/app/static/") for u in js + css)
    assert js.count("/base/app/static/js/leaflet-imagepath.js") == 1
    page = full_map.get_root().render()
    assert "/app/static/vendor" not in page.replace("/base/app/static/vendor", "")


def test_localize_after_a_render_removes_cdn_links_from_the_page() -> None:
    m = folium.Map(location=[30.0, 110.0], tiles=None)
    folium.CircleMarker([30.0, 110.0]).add_to(m)
    assert "cdn.jsdelivr.net" in m.get_root().render()
    maps.localize_assets(m)
    page = m.get_root().render()
    for url in SCRIPT_SRC.findall(page) + LINK_HREF.findall(page):
        assert_local(url)


def test_builders_localize_layers_added_after_base_map(stations: pd.DataFrame) -> None:
    m = maps.base_map(39.9, 116.4, 8)
    maps.add_points(m, stations, cluster=True)  # brings markercluster assets
    js, css = st_folium_links(m)
    assert any(u.endswith("leaflet.markercluster.js") for u in js)
    for url in js + css:
        assert_local(url)


@pytest.mark.parametrize(
    ("make", "asset"),
    [
        (lambda: folium.plugins.Fullscreen(), "Control.Fullscreen.js"),
        (lambda: folium.plugins.BoatMarker([30.0, 110.0]), "markerclusterjs"),  # same name, other file
        (lambda: folium.Marker([30.0, 110.0], icon=folium.Icon()), "awesome_markers"),
        (lambda: branca.colormap.LinearColormap(["#ffffff", "#ff0000"], vmin=0, vmax=1), "d3"),
        (lambda: folium.plugins.FastMarkerCluster([[30.0, 110.0]]), "awesome_markers"),
    ],
    ids=["plugin", "name-collision", "icon", "colormap", "default-cluster-callback"],
)
def test_element_without_local_asset_raises_naming_the_asset(make, asset: str) -> None:
    m = maps.base_map(30.0, 110.0, 5)
    make().add_to(m)
    with pytest.raises(MapAssetError, match=re.escape(asset)) as info:
        maps.localize_assets(m)
    assert isinstance(info.value, GeoError)


def test_vendored_files_and_licences_exist() -> None:
    for asset in [*maps.JS_ASSETS.values(), *maps.CSS_ASSETS.values()]:
        assert (STATIC / asset.path).is_file(), asset.path
    for folder in ["leaflet/1.9.3", "leaflet.markercluster/1.1.0", "jquery/3.7.1"]:
        licences = list((STATIC / "vendor" / folder).glob("*LICEN[CS]E*"))
        assert licences, f"no licence file beside vendor/{folder}"
    for name in ["marker-icon.png", "marker-icon-2x.png", "marker-shadow.png", "layers.png"]:
        assert (STATIC / "vendor/leaflet/1.9.3/images" / name).is_file()


# ---------------------------------------------------------------------------------------
# Escaping


def test_user_text_reaches_the_page_only_escaped(full_map: folium.Map) -> None:
    page = full_map.get_root().render()
    decoded = decode_js_escapes(page)
    for payload in XSS:
        assert payload not in page
        assert payload not in decoded, f"{payload!r} reaches the browser unescaped"
    assert "${alert" not in decoded
    assert "\\x3cimg" not in decoded
    # shown, escaped, in boundaries/choropleth tooltips, marker popups and cluster data
    assert decoded.count(ESCAPED_IMG) >= 4


def test_plain_and_clustered_points_escape_tooltips_and_popups(stations: pd.DataFrame) -> None:
    for cluster in (False, True):
        m = maps.base_map(39.9, 116.4, 8)
        maps.add_points(m, stations, popup_cols=["name"], tooltip_col="name", cluster=cluster, name=XSS[1])
        decoded = decode_js_escapes(m.get_root().render())
        assert ESCAPED_IMG in decoded
        for payload in XSS:
            assert payload not in decoded


def test_escape_text_handles_none_and_missing_values() -> None:
    assert maps.escape_text(None) == ""
    assert maps.escape_text(float("nan")) == ""
    assert maps.escape_text(pd.NA) == ""
    assert maps.escape_text(12) == "12"
    assert maps.escape_text("a&b<c>\"d'") == html.escape("a&b<c>\"d'", quote=True)


@given(st.text())
def test_escape_text_round_trips_and_leaves_no_active_character(s: str) -> None:
    out = maps.escape_text(s)
    assert html.unescape(out) == s
    assert not set(out) & set("<>\"'`$\\")
    assert maps._escape_series(pd.Series([s]))[0] == out


# ---------------------------------------------------------------------------------------
# Legend, classes, map options


def test_legend_is_self_drawn_without_branca_colormap_or_d3(full_map: folium.Map) -> None:
    page = full_map.get_root().render()
    assert "atlas-legend" in page
    assert not any(isinstance(el, branca.colormap.ColorMap) for el in walk(full_map))
    js, _ = st_folium_links(full_map)
    assert not any("d3" in u for u in js)
    assert not re.search(r"d3(\.v4)?(\.min)?\.js", page)


def test_legend_labels_are_escaped_and_bad_colours_rejected() -> None:
    m = maps.base_map(30.0, 110.0, 5)
    maps.add_legend(m, XSS[1], [("#ff0000", XSS[0])])
    decoded = decode_js_escapes(m.get_root().render())
    assert ESCAPED_IMG in decoded
    assert XSS[0] not in decoded
    assert XSS[1] not in decoded
    with pytest.raises(InputError, match="colour"):
        maps.add_legend(m, "t", [('red;" onmouseover="alert(1)', "x")])
    with pytest.raises(InputError, match="position"):
        maps.add_legend(m, "t", [], position="middle")


def test_color_classes_match_equal_intervals_computed_by_hand() -> None:
    values = np.array([0.0, 10.0, 19.999, 20.0, 55.0, 99.0, 100.0, np.nan])
    colors = ["#000001", "#000002", "#000003", "#000004", "#000005"]
    classes = maps.color_classes(values, colors)
    np.testing.assert_allclose(classes.edges, [0, 20, 40, 60, 80, 100])
    expected = [colors[min(int(v // 20), 4)] if np.isfinite(v) else maps.NODATA_COLOR for v in values]
    assert classes.assign(values).tolist() == expected
    items = classes.legend_items("{:.0f}", nodata_label="无数据")
    assert items[0] == ("#000001", "0 – 20")
    assert items[-1] == (maps.NODATA_COLOR, "无数据")


def test_color_classes_edge_cases() -> None:
    same = maps.color_classes([5.0, 5.0], ["#111111", "#222222"])
    assert same.assign([5.0]).tolist() == ["#222222"]
    empty = maps.color_classes([np.nan], ["#111111"])
    assert empty.assign([np.nan, 3.0]).tolist() == [maps.NODATA_COLOR] * 2
    binned = maps.color_classes([], ["#111111", "#222222"], bins=[0, 10, 20])
    assert binned.assign([-5.0, 10.0, 25.0]).tolist() == ["#111111", "#222222", "#222222"]
    with pytest.raises(InputError, match="bins"):
        maps.color_classes([1.0], ["#111111", "#222222"], bins=[0, 10])
    with pytest.raises(InputError, match="vmin"):
        maps.color_classes([1.0], ["#111111"], vmin=5, vmax=1)


def test_base_map_sets_max_zoom_canvas_attribution_and_no_tiles() -> None:
    m = maps.base_map(39.9, 116.4, 6)
    assert m.options["max_zoom"] == maps.MAX_ZOOM == 18
    assert m.options["prefer_canvas"] is True
    page = m.get_root().render()
    assert re.search(r'"maxZoom":\s*18', page)
    assert not any(isinstance(el, folium.TileLayer) for el in walk(m))
    assert "边界: 天地图" in decode_js_escapes(page)


def test_scale_bar_is_metric_only() -> None:
    page = maps.base_map(39.9, 116.4, 6).get_root().render()
    assert len(re.findall(r"L\.control\.scale\(", page)) == 1
    assert re.search(r"L\.control\.scale\(\{metric: true, imperial: false\}\)", page)


def test_hex_map_opens_at_a_given_view_instead_of_fitting_the_cells() -> None:
    cells = pd.DataFrame({"h3": [h3.latlng_to_cell(30.6, 114.3, 8)], "n": [3]})
    fitted = maps.hex_map(cells, "n").get_root().render()
    assert "fitBounds" in fitted
    m = maps.hex_map(cells, "n", view=(30.5, 114.2, 11))
    assert m.location == [30.5, 114.2]
    assert m.options["zoom"] == 11
    assert "fitBounds" not in m.get_root().render()
    with pytest.raises(InputError, match="centre"):
        maps.hex_map(cells, "n", view=(95.0, 114.2, 11))


def test_hex_res_for_zoom_keeps_cells_at_least_two_pixels_wide_per_edge() -> None:
    # zoom 9 at 35°N: 40,075,016.7 m / 256 / 2^9 × cos 35° = 250.4 m per pixel, so an edge
    # needs 500.8 m: res 8 (531.4 m average) is the finest that qualifies, res 9 (200.8 m) is not.
    assert maps.hex_res_for_zoom(9, 35.0) == 8
    for zoom in range(0, 19):
        res = maps.hex_res_for_zoom(zoom, 35.0)
        m_per_px = 40_075_016.686 / 256 / 2**zoom * np.cos(np.radians(35.0))
        if res > 0:
            assert h3.average_hexagon_edge_length(res, unit="m") >= 2 * m_per_px
        if res < 15:
            assert h3.average_hexagon_edge_length(res + 1, unit="m") < 2 * m_per_px
    assert [maps.hex_res_for_zoom(z) for z in range(19)] == sorted(
        maps.hex_res_for_zoom(z) for z in range(19)
    )


def test_zoom_for_bounds_fits_the_box_and_one_more_level_would_not() -> None:
    # China, 73–135°E: 62/360 of the world is 44 px wide at zoom 0, so 705 px at zoom 4.
    assert maps.zoom_for_bounds((73.0, 18.0, 135.0, 53.0), 800, 600) == 4
    assert maps.zoom_for_bounds((73.0, 18.0, 135.0, 53.0), 700, 600) == 3
    assert maps.zoom_for_bounds((114.0, 30.0, 114.0, 30.0), 800, 600) == maps.MAX_ZOOM
    for box in [(113.2, 22.5, 113.6, 23.4), (100.0, 20.0, 101.0, 21.0)]:
        z = maps.zoom_for_bounds(box, 640, 480)
        world_px = 256 * 2**z
        assert (box[2] - box[0]) / 360 * world_px <= 640
        assert (box[2] - box[0]) / 360 * world_px * 2 > 640 or z == maps.zoom_for_bounds(box, 10_000, 480)


def test_tile_providers_and_gcj02_flag() -> None:
    assert maps.tiles_use_gcj02("amap") is True
    assert maps.tiles_use_gcj02("tianditu") is False
    assert maps.tiles_use_gcj02(None) is False
    assert maps.tiles_use_gcj02("none") is False
    m = maps.base_map(39.9, 116.4, 6, tiles="tianditu", tianditu_key="k&y")
    layers = [el for el in walk(m) if isinstance(el, folium.TileLayer)]
    assert len(layers) == 2
    assert all("tk=k%26y" in layer.tiles for layer in layers)
    assert m.options["max_zoom"] == 18
    with pytest.raises(InputError, match="key"):
        maps.base_map(39.9, 116.4, 6, tiles="tianditu")
    with pytest.raises(InputError, match="unknown tiles"):
        maps.base_map(39.9, 116.4, 6, tiles="google")
    with pytest.raises(InputError, match="centre"):
        maps.base_map(95.0, 116.4, 6)


# ---------------------------------------------------------------------------------------
# Layers


def geojson_layers(m: folium.Map) -> list[folium.GeoJson]:
    return [el for el in walk(m) if isinstance(el, folium.GeoJson)]


def test_boundaries_are_rounded_to_five_decimals(regions: gpd.GeoDataFrame) -> None:
    m = maps.base_map(39.9, 116.4, 8)
    maps.add_boundaries(m, regions)
    (layer,) = geojson_layers(m)
    coords = np.concatenate(
        [np.asarray(f["geometry"]["coordinates"]).reshape(-1, 2) for f in layer.data["features"]]
    )
    np.testing.assert_array_equal(coords, np.round(coords, 5))
    assert 116.81235 in coords[:, 0]
    assert len(layer.data["features"]) == len(regions)


def test_boundaries_refuse_projected_frames_and_skip_empty_ones(regions: gpd.GeoDataFrame) -> None:
    m = maps.base_map(39.9, 116.4, 8)
    with pytest.raises(InputError, match="to_crs"):
        maps.add_boundaries(m, regions.to_crs(3857))
    with pytest.raises(InputError, match="'nom'"):
        maps.add_boundaries(m, regions, name_col="nom")
    maps.add_boundaries(m, regions.iloc[0:0])
    assert geojson_layers(m) == []


def test_choropleth_colours_match_classes(regions: gpd.GeoDataFrame) -> None:
    m = maps.base_map(39.9, 116.4, 8)
    colors = ["#aaaaaa", "#bbbbbb", "#cccccc"]
    maps.add_choropleth(m, regions, "stations", bins=[0, 50, 100, 150], colors=colors)
    (layer,) = geojson_layers(m)
    fills = [layer.style_function(f)["fillColor"] for f in layer.data["features"]]
    assert fills == ["#cccccc", "#aaaaaa", maps.NODATA_COLOR, "#bbbbbb"]


def test_hexes_render_one_polygon_per_cell_matching_h3() -> None:
    center = h3.latlng_to_cell(31.23, 121.47, 8)
    cells = sorted(h3.grid_disk(center, 2))
    m = maps.base_map(31.23, 121.47, 12)
    maps.add_hexes(m, pd.DataFrame({"h3": cells, "people": np.arange(len(cells), dtype=float)}), "people")
    (layer,) = geojson_layers(m)
    feats = layer.data["features"]
    assert len(feats) == len(cells) == 19
    for cell, feat in zip(cells, feats, strict=True):
        assert feat["geometry"]["type"] == "Polygon"
        ring = np.asarray(feat["geometry"]["coordinates"][0])
        expected = np.array([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])
        assert len(ring) == len(expected) + 1  # closed ring
        np.testing.assert_allclose(ring[:-1], expected, atol=6e-6)
    page = m.get_root().render()
    assert '"type": "Polygon"' in page or '"type":"Polygon"' in page


def test_hexes_accept_integer_indexes_and_reject_bad_ones() -> None:
    cells = list(h3.grid_disk(h3.latlng_to_cell(31.23, 121.47, 8), 1))
    as_str = maps.base_map(31.2, 121.5, 10)
    maps.add_hexes(as_str, pd.DataFrame({"h3": cells, "v": 1.0}), "v")
    as_int = maps.base_map(31.2, 121.5, 10)
    ints = pd.Series([h3.str_to_int(c) for c in cells], dtype="uint64")
    maps.add_hexes(as_int, pd.DataFrame({"h3": ints, "v": 1.0}), "v", label_col=None)
    assert geojson_layers(as_str)[0].data == geojson_layers(as_int)[0].data
    with pytest.raises(InputError, match="not a valid H3"):
        maps.add_hexes(as_str, pd.DataFrame({"h3": ["zzz"], "v": [1.0]}), "v")


def test_points_switch_to_fast_cluster_with_circle_marker_callback_above_threshold() -> None:
    few = maps.base_map(30.0, 110.0, 5)
    maps.add_points(few, many_points(maps.CLUSTER_THRESHOLD))
    assert sum(isinstance(el, folium.CircleMarker) for el in walk(few)) == maps.CLUSTER_THRESHOLD
    assert not any(isinstance(el, folium.plugins.MarkerCluster) for el in walk(few))

    many = maps.base_map(30.0, 110.0, 5)
    maps.add_points(many, many_points(maps.CLUSTER_THRESHOLD + 1), tooltip_col="name")
    clusters = [el for el in walk(many) if isinstance(el, folium.plugins.FastMarkerCluster)]
    assert len(clusters) == 1
    assert not any(isinstance(el, folium.CircleMarker) for el in walk(many))
    assert "L.circleMarker" in clusters[0].callback
    assert "AwesomeMarkers" not in clusters[0].callback
    assert len(clusters[0].data) == maps.CLUSTER_THRESHOLD + 1
    assert {len(row) for row in clusters[0].data} == {3}  # lat, lng, tooltip; no unused popup slot
    assert "AwesomeMarkers" not in many.get_root().render()


def test_cluster_bubbles_take_the_points_colour() -> None:
    m = maps.base_map(30.0, 110.0, 5)
    maps.add_points(m, many_points(maps.CLUSTER_THRESHOLD + 1), color="#1a4fd8")
    page = m.get_root().render()
    assert "iconCreateFunction" in page
    assert "background:#1a4fd8" in page
    assert "marker-cluster-small" not in page


def test_points_reject_bad_coordinates_and_too_many_plain_markers() -> None:
    m = maps.base_map(30.0, 110.0, 5)
    bad = pd.DataFrame({"lat": [30.0, np.nan, 91.0], "lng": [110.0, 110.0, 110.0]}, index=[10, 11, 12])
    with pytest.raises(InputError, match="row 11"):
        maps.add_points(m, bad)
    with pytest.raises(InputError, match="cluster=True"):
        maps.add_points(m, many_points(maps.PLAIN_MARKERS_MAX + 1), cluster=False)
    maps.add_points(m, many_points(0))  # empty frame: nothing added
    assert not any(isinstance(el, folium.CircleMarker) for el in walk(m))


def test_payload_bytes_measures_the_rendered_page_and_stays_under_budget() -> None:
    m = maps.base_map(30.0, 110.0, 5)
    empty = maps.payload_bytes(m)
    assert empty == len(m.get_root().render().encode("utf-8"))
    maps.add_points(m, many_points(20_000), tooltip_col="name")
    full = maps.payload_bytes(m)
    bare = maps.base_map(30.0, 110.0, 5)
    maps.add_points(bare, many_points(20_000)[["lat", "lng"]])
    assert maps.payload_bytes(bare) < empty + 20_000 * 30  # ≈ 23 bytes per bare point
    assert full > empty + 20_000 * 20  # every point is in the page
    assert full <= maps.MAX_PAYLOAD_BYTES


# ---------------------------------------------------------------------------------------
# Standalone export


def test_map_html_inlines_assets_and_links_nothing_external(full_map: folium.Map) -> None:
    page = maps.map_html(full_map)
    assert SCRIPT_SRC.findall(page) == []
    assert LINK_HREF.findall(page) == []
    leaflet_js = (STATIC / "vendor/leaflet/1.9.3/leaflet.js").read_text(encoding="utf-8")
    assert leaflet_js[:2000] in page  # leaflet itself is inlined
    assert 't.version="1.9.3"' in page
    assert "jQuery" in page
    assert "markerClusterGroup" in page
    assert not re.search(r"https?://(cdn|code\.jquery|cdnjs|unpkg|netdna|d3js)", page)
    assert "url(images/" not in page  # stylesheet images became data URIs
    assert "data:image/png;base64," in page
    assert "sourceMappingURL" not in page
    for payload in XSS:
        assert payload not in decode_js_escapes(page)


def test_map_html_is_valid_utf8_json_safe_export(regions: gpd.GeoDataFrame) -> None:
    m = maps.base_map(39.9, 116.4, 8)
    maps.add_choropleth(m, regions, "stations", legend_title="驿站数")
    page = maps.map_html(m)
    assert page.startswith("<!DOCTYPE html>")
    # the map's own script still parses as far as the data goes: features are JSON
    blob = re.search(r"_add\((\{.*?\})\);", page, re.DOTALL)
    assert blob is not None
    assert len(json.loads(blob.group(1))["features"]) == len(regions)
