"""Exports: Excel-friendly CSV, XLSX and GeoJSON, with formula injection neutralised."""

from __future__ import annotations

import io
import json

import openpyxl
import pandas as pd

from geo import export

FRAME = pd.DataFrame(
    {
        "name": ['=HYPERLINK("http://x")', "+1", "-cmd", "@SUM(A1)", "正常站点", None],
        "value": [-1, 2, 3, 4, 5, 6],
        "lat": [39.9, 31.2, 23.1, 30.0, 34.7, 40.0],
        "lng": [116.4, 121.5, 113.3, 120.0, 113.6, 110.0],
        "amenities": [["hot_water", "toilet"], [], ["meals"], [], [], []],
    }
)


def test_csv_has_bom_and_no_cell_starts_like_a_formula() -> None:
    data = export.to_csv_bytes(FRAME)
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    for cell in back["name"]:
        assert not cell.startswith(("=", "+", "-", "@"))
    assert back["name"].iloc[4] == "正常站点"
    assert back["value"].iloc[0] == "-1"  # numbers stay numbers
    assert back["amenities"].iloc[0] == "hot_water;toilet"


def test_xlsx_opens_and_holds_text_not_formulas() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(export.to_xlsx_bytes(FRAME, "sites")), read_only=True)
    ws = wb["sites"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:2] == ("name", "value")
    assert rows[1][0] == '\'=HYPERLINK("http://x")'
    assert rows[1][1] == -1


def test_geojson_is_a_valid_feature_collection_of_points() -> None:
    fc = json.loads(export.to_geojson_bytes(FRAME))
    assert fc["type"] == "FeatureCollection"
    assert len(fc["features"]) == len(FRAME)
    assert fc["features"][0]["geometry"]["coordinates"] == [116.4, 39.9]
    # GeoJSON goes to GIS tools, not spreadsheets: text exactly as it was
    assert fc["features"][1]["properties"]["name"] == "+1"
    assert fc["features"][0]["properties"]["name"] == '=HYPERLINK("http://x")'


INF_FRAME = pd.DataFrame(
    {"name": ["a", "b"], "distance_m": [120.5, float("inf")], "lat": [30.0, 31.0], "lng": [114.0, 115.0]}
)


def test_infinite_distances_are_exported_empty() -> None:
    csv = export.to_csv_bytes(INF_FRAME).decode("utf-8-sig")
    assert "inf" not in csv.lower()
    back = pd.read_csv(io.StringIO(csv))
    assert back["distance_m"].iloc[0] == 120.5
    assert pd.isna(back["distance_m"].iloc[1])
    ws = openpyxl.load_workbook(io.BytesIO(export.to_xlsx_bytes(INF_FRAME)), read_only=True).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[2][1] is None
    text = export.to_geojson_bytes(INF_FRAME).decode()
    assert "Infinity" not in text
    assert json.loads(text)["features"][1]["properties"]["distance_m"] is None


def test_empty_frame_exports() -> None:
    empty = FRAME.iloc[:0]
    assert export.to_csv_bytes(empty).startswith(b"\xef\xbb\xbf")
    assert json.loads(export.to_geojson_bytes(empty))["features"] == []


def test_formulas_behind_spaces_tabs_newlines_or_full_width_signs_are_neutralised() -> None:
    # Spreadsheets skip leading blanks before a formula, and some read full-width ＝＋－＠ as
    # their ASCII signs: every such cell must start with the apostrophe, nothing else changes.
    risky = [" =1+1", "\t=cmd|' /C calc'!A0", "\n+1", "\r\n-2", "\u3000@SUM(A1)"]
    risky += ["＝1+1", "＋1", "－1", "＠A1"]
    safe = ["正常 =站点", "a=b", "1-2"]
    frame = pd.DataFrame({"name": risky + safe, risky[3]: range(len(risky) + len(safe))})
    out = export.neutralise_formulas(frame)
    assert out["name"].tolist() == ["'" + r for r in risky] + safe
    assert list(out.columns) == ["name", "'" + risky[3]]
    back = pd.read_csv(io.BytesIO(export.to_csv_bytes(frame)), encoding="utf-8-sig", dtype=str)
    assert all(c.startswith("'") for c in back["name"].iloc[: len(risky)])
