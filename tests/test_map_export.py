"""Static map export: A4 PNG/PDF with title, legend, source, scale bar and inset; CJK text."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from PIL import Image

from geo import campaign, coverage, publication, regions, store
from geo.cli import main
from geo.errors import InputError, MapAssetError
from geo.maps import export, fonts, reports
from geo.maps.style import NODATA_COLOR, color_classes

SPECIAL = ("710000", "810000", "820000")  # Taiwan, Hong Kong, Macau: no data


def _provinces(values: np.ndarray | None = None) -> pd.DataFrame:
    gdf = regions.simplified("province", 0.02)[["adcode", "name", "geometry"]].copy()
    v = np.arange(len(gdf), dtype=float) if values is None else values
    gdf["v"] = np.where(gdf["adcode"].isin(SPECIAL), np.nan, v)
    return gdf


FURNITURE = export.MapFurniture(
    title="各省每万名劳动者驿站数", legend_title="每万名劳动者驿站数", source="驿站图 数据集 v0007", demo=True
)


def _texts(fig: Figure) -> str:
    parts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        parts += [t.get_text() for t in ax.texts]
    for legend in fig.legends:
        parts += [legend.get_title().get_text(), *(t.get_text() for t in legend.get_texts())]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def national() -> Figure:
    return export.region_figure(_provinces(), "v", furniture=FURNITURE, fmt="{:.1f}")


def test_the_font_has_chinese_glyphs() -> None:
    family = fonts.cjk_font_family()
    from matplotlib import font_manager

    path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    font = FT2Font(path)
    for ch in "南海诸岛驿站无数据":
        assert font.get_char_index(ord(ch)) != 0, f"{family} has no glyph for {ch}"


def test_missing_font_fails_with_a_message_naming_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib import font_manager

    monkeypatch.setattr(fonts, "_packaged_font", lambda: None)
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [])
    fonts.cjk_font_family.cache_clear()
    try:
        with pytest.raises(MapAssetError, match="pip install noto-cjk-sans-otc"):
            fonts.cjk_font_family()
    finally:
        monkeypatch.undo()
        fonts.cjk_font_family.cache_clear()


def test_png_is_a4_landscape_at_the_chosen_dpi(national: Figure) -> None:
    png = export.figure_bytes(national, "png", dpi=100)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    img = Image.open(io.BytesIO(png))
    assert img.size == (int(297 / 25.4 * 100), int(210 / 25.4 * 100))  # (1169, 826): 297 × 210 mm
    # a map, not a blank page: many distinct colours, the class colours among them
    colours = {c for _, c in img.convert("RGB").getcolors(1_000_000)}
    assert len(colours) > 50


def test_pdf_is_one_a4_landscape_page(national: Figure) -> None:
    pdf = export.figure_bytes(national, "pdf")
    assert pdf.startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox \[ *([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+) *\]", pdf)
    assert len(boxes) == 1
    x0, y0, w, h = (float(v) for v in boxes[0])
    assert (x0, y0) == (0.0, 0.0)
    assert w == pytest.approx(841.89, abs=0.5)  # 297 mm in points
    assert h == pytest.approx(595.28, abs=0.5)  # 210 mm


def test_title_legend_source_date_and_demo_label_are_on_the_page(national: Figure) -> None:
    text = _texts(national)
    assert FURNITURE.title in text
    assert "每万名劳动者驿站数" in text
    assert "驿站图 数据集 v0007" in text
    assert "天地图" in text
    assert "演示数据" in text
    assert FURNITURE.made_on.isoformat() in text
    assert "无数据" in text  # Taiwan, Hong Kong, Macau have no value
    assert "公里" in text  # scale bar
    assert "北" in text  # north arrow


def test_national_map_has_the_south_china_sea_inset(national: Figure) -> None:
    labels = [ax.get_label() for ax in national.axes]
    assert "map" in labels
    assert "scs_inset" in labels
    inset = next(ax for ax in national.axes if ax.get_label() == "scs_inset")
    assert "南海诸岛" in [t.get_text() for t in inset.texts]
    map_ax = next(ax for ax in national.axes if ax.get_label() == "map")
    a, b = inset.get_position(original=True), map_ax.get_position(original=True)
    assert a.x0 > b.x1  # right of the map, not over it
    assert a.y0 == pytest.approx(b.y0)  # at the bottom


def _patch_collections(ax: object) -> list[PatchCollection]:
    return [c for c in ax.collections if isinstance(c, PatchCollection)]  # type: ignore[attr-defined]


def test_regions_without_data_are_hatched_not_dropped_and_classes_match_the_web_map() -> None:
    from matplotlib.colors import to_rgba

    gdf = _provinces()
    fig = export.region_figure(gdf, "v", furniture=FURNITURE)
    ax = next(a for a in fig.axes if a.get_label() == "map")
    colls = _patch_collections(ax)
    hatched = [c for c in colls if c.get_hatch()]
    filled = [c for c in colls if not c.get_hatch()]
    missing = gdf["v"].isna()
    assert len(hatched) == 1
    assert tuple(hatched[0].get_facecolor()[0]) == pytest.approx(to_rgba(NODATA_COLOR))
    # Taiwan, Hong Kong and Macau are drawn (one compound path per region), hatched
    assert len(hatched[0].get_paths()) == int(missing.sum()) == len(SPECIAL)
    # every other region is drawn in its class colour
    assert sum(len(c.get_paths()) for c in filled) == int((~missing).sum())
    values = gdf["v"].to_numpy(dtype=float)
    classes = color_classes(values)
    shown = np.concatenate([c.get_facecolor() for c in filled])
    expected_rgba = {tuple(np.round(to_rgba(c), 6)) for c in classes.assign(values[~missing])}
    assert {tuple(np.round(c, 6)) for c in shown} == expected_rgba
    # the legend shows the classes of the folium map (same function, same edges)
    expected = [label for _, label in classes.legend_items("{:,.0f}")]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [*expected, "无数据"]


def test_provincial_map_has_no_inset_and_english_texts() -> None:
    cities = regions.simplified("city", 0.005)
    gd = cities[cities["province_adcode"] == "440000"][["adcode", "name", "geometry"]].assign(v=3.0)
    f = export.MapFurniture(title="Guangdong", legend_title="Stations", lang="en")
    fig = export.region_figure(gd, "v", furniture=f)
    assert "scs_inset" not in [ax.get_label() for ax in fig.axes]
    text = _texts(fig)
    assert "Boundaries © Tianditu" in text
    assert " km" in text
    assert "demo data" not in text


def test_hex_figure_hatches_withheld_cells_with_the_page_label() -> None:
    import h3

    cells = sorted(h3.grid_disk(h3.latlng_to_cell(23.13, 113.26, 6), 3))
    values = np.arange(len(cells), dtype=float)
    values[::5] = np.nan
    outline = regions.simplified("county", 0.005)
    outline = outline[outline["city_adcode"] == "440100"][["adcode", "name", "geometry"]]
    fig = export.hex_figure(
        pd.DataFrame({"h3": cells, "people": values}),
        "people",
        outline=outline,
        nodata_label="已隐去",
        furniture=export.MapFurniture(title="广州"),
    )
    ax = next(a for a in fig.axes if a.get_label() == "map")
    hatched = [c for c in _patch_collections(ax) if c.get_hatch()]
    assert sum(len(c.get_paths()) for c in hatched) == int(np.isnan(values).sum())
    assert "已隐去" in _texts(fig)


def test_bad_inputs_fail_with_messages() -> None:
    with pytest.raises(InputError, match="format"):
        export.figure_bytes(Figure(), "svg")
    with pytest.raises(InputError, match="no column"):
        export.region_figure(_provinces().drop(columns="v"), "v", furniture=FURNITURE)
    with pytest.raises(InputError, match="no region"):
        export.region_figure(_provinces().iloc[:0], "v", furniture=FURNITURE)


def test_proposed_sites_are_drawn_as_numbered_stars_with_a_legend_entry() -> None:
    cities = regions.simplified("city", 0.005)
    gd = cities[cities["province_adcode"] == "420000"][["adcode", "name", "geometry"]].assign(v=50.0)
    sites = pd.DataFrame({"lat": [30.59, 30.45, 31.0], "lng": [114.30, 114.1, 113.9]})
    f = export.MapFurniture(title="湖北省驿站覆盖率", lang="zh")
    fig = reports.coverage_regions(
        gd.rename(columns={"v": "share"})[["adcode", "share"]], "420000", f, gd, sites
    )
    ax = next(a for a in fig.axes if a.get_label() == "map")
    stars = [c for c in ax.collections if len(c.get_offsets()) == 3]
    assert len(stars) == 1
    assert [t.get_text() for t in ax.texts if type(t).__name__ == "Annotation"] == ["1", "2", "3"]
    assert "拟建站点(按序号) (3)" in _texts(fig)
    # the stars sit where the sites are (projected like the regions)
    xy = stars[0].get_offsets()
    crs = export.albers_for([float(v) for v in gd.total_bounds])
    import geopandas as gpd

    expect = gpd.GeoSeries(gpd.points_from_xy(sites["lng"], sites["lat"]), crs=4326).to_crs(crs)
    np.testing.assert_allclose(xy[:, 0], expect.x, rtol=1e-9)
    with pytest.raises(InputError, match="row 2"):
        export.region_figure(
            gd, "v", furniture=f, points=(export.PointLayer([30.0, 95.0], [114.0, 114.0], "sites"),)
        )


# ---- the CLI draws the pages' figures ---------------------------------------------------------


def test_cli_overview_writes_a_png_of_the_overview_figures(
    demo_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, pd.DataFrame] = {}
    original = reports.overview_nation

    def spy(provinces: pd.DataFrame, furniture: export.MapFurniture) -> Figure:
        seen["provinces"] = provinces
        return original(provinces, furniture)

    monkeypatch.setattr(reports, "overview_nation", spy)
    out = tmp_path / "o.png"
    argv = [
        "map-export",
        "--map",
        "overview",
        "--data-dir",
        str(demo_data_dir),
        "--out",
        str(out),
        "--dpi",
        "60",
    ]
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["path"] == str(out)
    assert Image.open(out).size == (int(297 / 25.4 * 60), int(210 / 25.4 * 60))
    assert result["pixels"] == [int(297 / 25.4 * 60), int(210 / 25.4 * 60)]
    # the page's table: stations per 10,000 workers by province, 1 km (views/common._overview_stats)
    st = store.read_table(demo_data_dir, "stations")
    wp = store.read_table(demo_data_dir, "workplaces")
    from geo.nearest import StationIndex

    dist = coverage.nearest_distance_m(wp, StationIndex.from_frame(st))
    page = coverage.region_stats(st, wp, "province", distance_m=dist, covered=dist <= 1000.0)
    pd.testing.assert_frame_equal(seen["provinces"], page)
    # and an independent count for one province
    row = page.iloc[0]
    n = int((st["province_adcode"] == row["adcode"]).sum())
    workers = int(wp.loc[wp["province_adcode"] == row["adcode"], "workers"].sum())
    assert row["stations_per_10k"] == pytest.approx(n / workers * 10_000)


def test_cli_campaign_draws_the_published_cells(
    demo_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}
    original = reports.campaign

    def spy(
        frame: pd.DataFrame, unit: str, value_col: str, bins: list[float], *a: object, **k: object
    ) -> Figure:
        seen.update(frame=frame, unit=unit, bins=bins, label=a[1])
        return original(frame, unit, value_col, bins, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(reports, "campaign", spy)
    out = tmp_path / "c.pdf"
    argv = ["map-export", "--map", "campaign", "--data-dir", str(demo_data_dir), "--out", str(out)]
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "pdf"
    assert out.read_bytes().startswith(b"%PDF")
    lo, hi = campaign.campaign_window(2025)
    view = publication.campaign_view(
        demo_data_dir,
        campaign.Filters(2025, lo, hi).checked(),
        k=10,
        region_level="province",
        res=campaign.res_for_region("nation"),
    )
    published = view.cells  # what the page's "all days" hex map shows
    pd.testing.assert_frame_equal(seen["frame"], published)  # type: ignore[arg-type]
    assert seen["bins"] == campaign.locked_bins(published["people"])
    assert seen["label"] == "已隐去"  # the page's label for every withheld figure, never "<10"
    assert published["withheld"].any()


def test_cli_rejects_an_unknown_region(demo_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["map-export", "--map", "coverage", "--region", "999999", "--data-dir", str(demo_data_dir)]
    assert main(argv) == 2
    assert "999999" in capsys.readouterr().err


def test_cli_coverage_draws_the_sites_of_a_file(
    demo_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wp = store.read_table(demo_data_dir, "workplaces")
    prov = str(wp["province_adcode"].value_counts().index[0])
    inside = wp[wp["province_adcode"] == prov].iloc[:4]
    sites = tmp_path / "sites.csv"
    inside[["lat", "lng"]].assign(name=["甲", "乙", "丙", "丁"]).to_csv(sites, index=False)
    out = tmp_path / "c.pdf"
    argv = ["map-export", "--map", "coverage", "--region", prov, "--data-dir", str(demo_data_dir)]
    assert main([*argv, "--out", str(out), "--sites", str(sites), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "pdf"
    assert out.read_bytes().startswith(b"%PDF")
    bad = tmp_path / "bad.csv"
    bad.write_text("lat,lng\nabc,def\n", encoding="utf-8")
    assert main([*argv, "--out", str(out), "--sites", str(bad)]) != 0
    assert "lat" in capsys.readouterr().err
    assert main([*argv, "--out", str(out), "--sites", str(tmp_path / "none.csv")]) != 0
    assert "--sites" in capsys.readouterr().err  # the option the user gave, not --candidates
