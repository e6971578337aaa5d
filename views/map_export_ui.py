"""Download buttons for the static maps (PNG and PDF, A4), shared by the map pages.

Each page calls one function here with the figures its map shows; the PNG/PDF is drawn
(:mod:`geo.maps.reports`, matplotlib) only when a button is clicked, in Streamlit's
deferred-download thread, so the page itself does not get slower.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from geo import i18n
from geo.query import CoverageQuery
from views import common


def _furniture(title: str, legend: str, **kw: Any) -> Any:
    from geo.maps import export, reports

    lang = common.lang()
    source, demo = reports.dataset_note(common.data_dir(), lang)
    return export.MapFurniture(title=title, legend_title=legend, source=source, demo=demo, lang=lang, **kw)


def download_buttons(build: Callable[[], Any], stem: str, key: str) -> None:
    """Show "PNG" and "PDF" download buttons for the figure ``build()`` returns (drawn on click)."""
    from geo.maps import export

    def render(fmt: str) -> Callable[[], bytes]:
        return lambda: export.figure_bytes(build(), fmt)

    c1, c2, _ = st.columns([1, 1, 2])
    c1.download_button(
        common.tr("maps.download_png"),
        render("png"),
        f"{stem}.png",
        "image/png",
        key=f"{key}_png",
        on_click="ignore",
    )
    c2.download_button(
        common.tr("maps.download_pdf"),
        render("pdf"),
        f"{stem}.pdf",
        "application/pdf",
        key=f"{key}_pdf",
        on_click="ignore",
    )


def overview_buttons(province: str, province_name: str, radius_m: float) -> None:
    """Downloads of the overview map: provinces by stations per 10,000 workers, or one province's hexes."""
    from geo import hexes
    from geo.maps import reports

    lang = common.lang()
    if province:
        cells, res = common._station_hex_counts(common.data_key(), str(common.data_dir()), province)
        f = _furniture(
            common.tr("overview.map_title_province", province=province_name),
            common.tr("overview.legend_hex", res=res, area=f"{hexes.average_hexagon_area_km2(res):.1f}"),
        )
        download_buttons(
            lambda: reports.overview_province(cells, province, f), f"overview_{province}", "ov_dl"
        )
        return
    provinces = common.overview_stats(radius_m)["provinces"]
    f = _furniture(common.tr("overview.map_title_nation"), i18n.t("overview.legend_per10k", lang))
    download_buttons(lambda: reports.overview_nation(provinces, f), "overview_china", "ov_dl")


def coverage_buttons(
    q: CoverageQuery, region: str, sites: pd.DataFrame | None = None, key: str = "cov_dl"
) -> None:
    """Downloads of the coverage-share map of the regions inside ``region`` (same table as the page).

    ``sites``: the proposed sites of the siting tab (for the same query), drawn as numbered stars.
    """
    from geo.maps import reports

    lang = common.lang()
    table = common.coverage_figures(q)["regions"]
    outline = common.coverage_outline(region)
    radius = i18n.format_distance(q.radius_m, lang)
    title = common.tr("maps.title_coverage", region=reports.region_name(region, lang), radius=radius)
    f = _furniture(title, common.tr("coverage.legend_share"))
    stem = f"coverage_{region or 'china'}" + ("_sites" if sites is not None and len(sites) else "")
    download_buttons(lambda: reports.coverage_regions(table, region, f, outline, sites=sites), stem, key)


def campaign_buttons(
    frame: pd.DataFrame,
    view: str,
    value_col: str,
    bins: list[float],
    legend: str,
    hidden: str,
    region: str,
    year: int,
    day: str,
) -> None:
    """Downloads of the campaign map frame on screen (published figures, the page's class edges)."""
    from geo.maps import reports

    lang = common.lang()
    title = common.tr(
        "maps.title_campaign",
        region=reports.region_name(region, lang),
        year=year,
        day=common.tr("campaign.all_days") if day == "all" else day,
    )
    stem = f"campaign_{year}_{region or 'china'}_{day}_map"
    k = int(common.settings().k_anonymity)
    f = _furniture(title, legend, notes=(common.tr("maps.withheld_note", k=k),))
    unit = "hex" if view == "hex" else "region"
    outline = common.campaign_outline(region)
    download_buttons(
        lambda: reports.campaign(frame, unit, value_col, bins, region, hidden, f, outline),
        stem,
        "campaign_dl",
    )
