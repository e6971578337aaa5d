"""Official-grade folium maps: boundary lines, no-data fill, South China Sea inset."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from geo import maps, regions
from geo.maps import official

SPECIAL = {"710000": "台湾省", "810000": "香港特别行政区", "820000": "澳门特别行政区", "460000": "海南省"}


def _national_map(lang: str = "zh") -> tuple[object, str]:
    gdf = regions.simplified("province", 0.02)[["adcode", "name", "geometry"]].copy()
    # data for the mainland provinces only, as in the demo: the special regions have none
    gdf["v"] = np.where(gdf["adcode"].isin(["710000", "810000", "820000"]), np.nan, 10.0)
    gdf.loc[gdf["adcode"] == "460000", "v"] = np.nan  # Hainan (with the islands) without data too
    m = maps.region_map(gdf, "v", legend_title="驿站数", nodata_label="无数据", lang=lang)
    return m, m.get_root().render()


def _geojson_layers(m: object) -> list[dict]:
    out = []
    for child in m._children.values():  # type: ignore[attr-defined]
        if type(child).__name__ == "GeoJson":
            out.append(child)
    return out


def test_national_choropleth_fills_taiwan_hong_kong_macau_hainan_without_data() -> None:
    m, _ = _national_map()
    regions_layer = _geojson_layers(m)[0]
    features = regions_layer.data["features"]
    tips = [f["properties"]["tip"] for f in features]
    for adcode, name in SPECIAL.items():
        i = next(i for i, tip in enumerate(tips) if name in tip)
        style = regions_layer.style_function(features[i])
        assert style["fillColor"] == maps.NODATA_COLOR, adcode
        assert style["fillOpacity"] > 0.5
    # Hainan's feature includes the South China Sea islands (down to ~4°N)
    hainan = features[next(i for i, tip in enumerate(tips) if "海南省" in tip)]
    lats = [pt[1] for poly in hainan["geometry"]["coordinates"] for ring in poly for pt in ring]
    assert min(lats) < 5.0
    assert len(hainan["geometry"]["coordinates"]) > 50  # the islands are kept, not simplified away


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def test_no_data_colour_stands_out_from_the_background_and_the_lightest_class() -> None:
    nodata = _rgb(maps.NODATA_COLOR)
    assert np.abs(nodata - _rgb(maps.MAP_BACKGROUND)).sum() > 80
    assert np.abs(nodata - _rgb(maps.SEQUENTIAL_REDS[0])).sum() > 80


def test_national_map_has_a_no_data_legend_entry_and_background() -> None:
    m, page = _national_map()
    legend = next(c for c in m._children.values() if type(c).__name__ == "_Legend")  # type: ignore[attr-defined]
    assert "无数据" in legend.html
    assert maps.NODATA_COLOR in legend.html
    assert maps.MAP_BACKGROUND in page


def test_national_map_draws_every_boundary_line_dashed_and_the_scs_line() -> None:
    m, _ = _national_map()
    lines_layer = next(g for g in _geojson_layers(m) if g.data["features"][0]["properties"].get("line_type"))
    kinds = [f["properties"]["line_type"] for f in lines_layer.data["features"]]
    assert len(kinds) == len(regions.boundary_lines("province")) == 8
    assert "south_china_sea" in kinds
    for f in lines_layer.data["features"]:
        style = lines_layer.style_function(f)
        assert f["geometry"]["type"] in (
            "LineString",
            "MultiLineString",
        )  # one-part lines simplify to LineString
        if f["properties"]["line_type"] == "south_china_sea":
            assert style["dashArray"] is None  # its dashes are the geometry
        else:
            assert style["dashArray"] == official.LINE_DASH


@pytest.mark.parametrize(("lang", "caption"), [("zh", "南海诸岛"), ("en", "South China Sea Islands")])
def test_national_map_shows_the_south_china_sea_inset(lang: str, caption: str) -> None:
    _, page = _national_map(lang)
    assert page.count('L.control({position: "bottomright"})') >= 2  # legend and inset
    svgs = [json.loads(s) for s in re.findall(r'div.innerHTML = ("(?:[^"\\]|\\.)*");', page)]
    svg = next(s for s in svgs if s.startswith("<svg"))
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert f">{caption}</text>" in svg
    assert svg.count("<path") > 10
    # the fills of the main map reach the inset: Hainan has no data, so it is drawn grey there
    assert maps.NODATA_COLOR in svg


def test_provincial_map_gets_lines_but_no_inset() -> None:
    gdf = regions.simplified("city", 0.01)
    gdf = gdf[gdf["province_adcode"] == "440000"][["adcode", "name", "geometry"]].assign(v=1.0)
    m = maps.region_map(gdf, "v")
    page = m.get_root().render()
    assert "atlas-scs-inset" not in page
    kinds = [
        f["properties"]["line_type"]
        for g in _geojson_layers(m)
        for f in g.data["features"]
        if "line_type" in f["properties"]
    ]
    assert "water" in kinds  # Guangdong's sea boundaries with Hong Kong, Macau, Hainan, Fujian


def test_inset_svg_escapes_its_caption_and_rejects_bad_fills() -> None:
    svg = maps.scs_inset_svg("<b>x</b>")
    assert "<b>" not in svg
    assert "&lt;b&gt;x&lt;/b&gt;" in svg
    with pytest.raises(maps_errors()):
        maps.scs_inset_svg("t", fills={"460000": "red;}</style>"})


def maps_errors() -> type[Exception]:
    from geo.errors import InputError

    return InputError


def test_is_national_and_level_of() -> None:
    assert official.is_national((73.5, 3.8, 135.1, 53.6))
    assert not official.is_national((109.6, 20.2, 117.2, 25.5))
    assert official.level_of(["110000", "440000"]) == "province"
    assert official.level_of(["440100", "441900"]) == "city"
    assert official.level_of(["440103", "440100"]) == "county"
