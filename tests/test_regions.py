"""Regions: Tianditu boundaries load clean, points are tagged with the right county."""

from __future__ import annotations

import numpy as np
import pytest

from geo import regions
from geo.errors import GeoError


def test_levels_have_the_documented_sizes_and_clean_codes() -> None:
    prov = regions.boundaries("province")
    city = regions.boundaries("city")
    county = regions.boundaries("county")
    assert len(prov) == 34
    assert 370 <= len(city) <= 380
    assert len(county) == 2891
    for gdf in (prov, city, county):
        assert gdf["adcode"].str.fullmatch(r"\d{6}").all()
        assert gdf["adcode"].is_unique
        assert gdf.geometry.is_valid.all()
        assert gdf.crs.to_epsg() == 4326
    assert county["province"].ne("").all()
    assert county["city"].notna().all()


@pytest.mark.parametrize(
    ("lat", "lng", "county", "city", "province"),
    [
        (39.9087, 116.3975, "东城区", "北京市", "北京市"),  # Tiananmen: municipality, no city layer
        (31.2304, 121.4737, "黄浦区", "上海市", "上海市"),  # People's Square
        (30.3627, 113.4540, "仙桃市", "仙桃市", "湖北省"),  # 省直辖县级市
        (34.7466, 113.6254, None, "郑州市", "河南省"),  # Zhengzhou centre (county near a border)
        (43.8256, 87.6168, None, "乌鲁木齐市", "新疆维吾尔自治区"),
    ],
)
def test_known_places_are_tagged_with_their_county_city_and_province(
    lat: float, lng: float, county: str | None, city: str, province: str
) -> None:
    tags = regions.tag_points(np.array([lat]), np.array([lng])).iloc[0]
    if county is not None:
        assert tags["county"] == county
    assert tags["city"] == city
    assert tags["province"] == province
    assert tags["adcode"][:2] == tags["province_adcode"][:2]


def test_points_outside_china_get_no_tags_and_keep_their_order() -> None:
    lat = np.array([35.0, 39.9087, 51.5, 20.0])  # Yellow Sea, Beijing, London, South China Sea
    lng = np.array([124.0, 116.3975, -0.12, 115.0])
    tags = regions.tag_points(lat, lng)
    assert tags["adcode"].isna().tolist() == [True, False, True, True]
    assert regions.inside_china(lat, lng).tolist() == [False, True, False, False]


def test_empty_input_gives_empty_tags() -> None:
    tags = regions.tag_points(np.array([]), np.array([]))
    assert len(tags) == 0
    assert "adcode" in tags.columns


def test_simplified_boundaries_are_smaller_but_cover_the_same_regions() -> None:
    full = regions.boundaries("province")
    simple = regions.simplified("province", 0.02)
    assert list(simple["adcode"]) == list(full["adcode"])
    import shapely

    assert (
        shapely.get_num_coordinates(simple.geometry.values).sum()
        < shapely.get_num_coordinates(full.geometry.values).sum() / 3
    )


def test_unknown_level_is_an_error() -> None:
    with pytest.raises(GeoError, match="unknown region level"):
        regions.boundaries("village")


def test_boundary_lines_are_kept_with_the_south_china_sea_line() -> None:
    lines = regions.boundary_lines("province")
    assert len(lines) == 8  # every 境界线 feature of province.geojson
    assert set(lines.geom_type) == {"MultiLineString"}
    assert lines.crs.to_epsg() == 4326
    assert set(lines["line_type"]) <= set(regions.LINE_TYPES)
    scs = lines[lines["line_type"] == "south_china_sea"]
    assert len(scs) == 1
    dashes = scs.geometry.iloc[0]
    assert len(dashes.geoms) == 10  # the ten dashes (十段线, one east of Taiwan)
    west, south, east, north = dashes.bounds
    assert south < 4.0
    assert north > 24.0
    assert 108.0 < west < 109.0
    assert 122.0 < east < 123.5
    # the Qiongzhou Strait line lies between Hainan and Leizhou, in the water
    water = lines[lines["line_type"] == "water"]
    assert any(g.bounds[1] > 20.0 and g.bounds[3] < 20.5 for g in water.geometry)
    assert len(regions.boundaries("province")) == 34  # the polygons stay as they were


@pytest.mark.parametrize("level", ["city", "county"])
def test_finer_levels_carry_their_own_boundary_lines(level: str) -> None:
    lines = regions.boundary_lines(level)
    assert len(lines) >= 7
    assert (lines["line_type"] == "south_china_sea").sum() == 1


def test_boundary_lines_reject_an_unknown_level() -> None:
    with pytest.raises(GeoError, match="unknown region level"):
        regions.boundary_lines("town")
