"""送温暖 aggregation and k-anonymity suppression, checked against pandas / h3-py / brute force."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import h3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import campaign as c
from geo import privacy, publication
from geo.errors import DataMissingError, InputError
from geo.schema import SPRING_FESTIVAL

K = 10


@pytest.fixture(scope="module")
def ev(demo_tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    df = demo_tables["campaign"].copy()
    df["date"] = pd.to_datetime(df["date"].astype(str))
    df["year"] = df["year"].astype(int)
    return df


def _sums(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return (
        df.groupby(keys)
        .agg(people=("people", "sum"), events=("people", "size"), funds_yuan=("funds_yuan", "sum"))
        .reset_index()
    )


# ---------------------------------------------------------------- aggregation


@pytest.mark.parametrize(
    ("by", "col"),
    [
        ("province", "province_adcode"),
        ("city", "city_adcode"),
        ("county", "adcode"),
        ("category", "category"),
        ("organizer_level", "organizer_level"),
        ("day", "date"),
    ],
)
def test_sums_by_grouping_match_pandas(demo_data_dir: Path, ev: pd.DataFrame, by: str, col: str) -> None:
    got = c.campaign_by(demo_data_dir, by, c.Filters(2025))
    key = "adcode" if by in ("province", "city", "county") else ("date" if by == "day" else by)
    want = _sums(ev[ev["year"] == 2025], [col]).rename(columns={col: key})
    merged = want.merge(got, on=key, how="outer", suffixes=("_want", ""), indicator=True)
    assert len(got) > 0
    assert (merged["_merge"] == "both").all()
    for m in c.MEASURES:
        np.testing.assert_allclose(merged[m].astype(float), merged[f"{m}_want"].astype(float))


@pytest.mark.parametrize("res", [4, 5, 6, 7, 8, 9])
def test_hex_cells_are_h3_parents_of_h3_9(demo_data_dir: Path, ev: pd.DataFrame, res: int) -> None:
    got = c.campaign_by(demo_data_dir, "hex", c.Filters(2024), res=res)
    sel = ev[ev["year"] == 2024]
    parents = [h3.cell_to_parent(x, res) for x in sel["h3_9"]]
    want = sel.assign(h3=parents).groupby("h3")["people"].sum()
    assert dict(zip(got["h3"], got["people"], strict=True)) == want.to_dict()
    assert all(h3.get_resolution(x) == res for x in got["h3"].head(50))


def test_filters_date_category_region_match_pandas(demo_data_dir: Path, ev: pd.DataFrame) -> None:
    sel = ev[ev["year"] == 2025]
    province = sel["province_adcode"].value_counts().index[0]
    city = sel.loc[sel["province_adcode"] == province, "city_adcode"].value_counts().index[0]
    county = sel.loc[sel["city_adcode"] == city, "adcode"].value_counts().index[0]
    d0, d1 = dt.date(2025, 1, 5), dt.date(2025, 1, 25)
    for region, col in [(province, "province_adcode"), (city, "city_adcode"), (county, "adcode")]:
        f = c.Filters(2025, d0, d1, ("hardship", "model"), region)
        want = sel[
            (sel[col] == region)
            & sel["date"].between(pd.Timestamp(d0), pd.Timestamp(d1))
            & sel["category"].isin(["hardship", "model"])
        ]
        tot = c.campaign_total(demo_data_dir, f)
        assert tot == {
            "people": int(want["people"].sum()),
            "events": len(want),
            "funds_yuan": pytest.approx(float(want["funds_yuan"].sum())),
        }


def _sql_hex_days(path: Path, by: list[str], f: c.Filters, res: int) -> pd.DataFrame:
    """The general (DuckDB hash aggregate) path of campaign_by, for comparison."""
    sql, params = c._sql_campaign(by, f.checked())
    params.update(campaign=str(path), res=res)
    out = c._run(sql, params)
    return out.astype({"people": "int64", "events": "int64", "funds_yuan": "float64"})


@pytest.mark.parametrize("batch_rows", [1 << 20, 97, 1])
@pytest.mark.parametrize("by", [["hex", "day"], ["day", "hex"]])
def test_cell_by_day_in_stored_order_matches_the_general_path(
    demo_data_dir: Path, ev: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, by: list[str], batch_rows: int
) -> None:
    # Small batches put run boundaries (and runs going on) across batches and threads.
    monkeypatch.setattr(c, "_BATCH_ROWS", batch_rows)
    path = c.Sources.from_data_dir(demo_data_dir).campaign
    sel = ev[ev["year"] == 2025]
    region = str(sel["province_adcode"].value_counts().index[0])
    for f in [
        c.Filters(2025),
        c.Filters(2024, dt.date(2024, 1, 20), dt.date(2024, 2, 1)),
        c.Filters(2025, categories=("hardship",), region=region),
        c.Filters(2025, region="659999"),  # no event: an empty frame
    ]:
        for res in (4, 7, 9):
            fast = c._hex_days_in_order(path, f.checked(), res, hex_first=by[0] == "hex")
            assert fast is not None
            want = _sql_hex_days(path, by, f, res)
            pd.testing.assert_frame_equal(
                fast, want, check_exact=False, rtol=1e-12, check_dtype=len(want) > 0
            )
            pd.testing.assert_frame_equal(c.campaign_by(demo_data_dir, by, f, res=res), fast)


def test_cell_by_day_takes_the_general_path_when_the_order_is_not_recorded_or_wrong(
    demo_data_dir: Path, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    from geo import store

    path = c.Sources.from_data_dir(demo_data_dir).campaign
    f = c.Filters(2025)
    want = c.campaign_by(demo_data_dir, ["hex", "day"], f)
    table = pq.read_table(path)
    plain = tmp_path / "plain.parquet"
    pq.write_table(table.replace_schema_metadata(None), plain)
    shuffled = tmp_path / "shuffled.parquet"  # says it is sorted, but is not
    rows = np.random.default_rng(0).permutation(table.num_rows)
    pq.write_table(table.take(rows).replace_schema_metadata(table.schema.metadata), shuffled)
    assert store.read_sorted(shuffled, c.CAMPAIGN, ["date"]) is not None
    for p in (plain, shuffled):
        assert c._hex_days_in_order(p, f.checked(), 7, hex_first=True) is None
        src = c.Sources(p, path, path, path)
        pd.testing.assert_frame_equal(
            c.campaign_by(src, ["hex", "day"], f), want, check_exact=False, rtol=1e-12
        )


def test_yoy_is_aligned_on_days_to_the_spring_festival(demo_data_dir: Path, ev: pd.DataFrame) -> None:
    d = c.daily_yoy(demo_data_dir, c.Filters(2025))
    for offset in (-30, -10, 0, 5):
        row = d[d["day_offset"] == offset].iloc[0]
        this = ev[
            (ev["year"] == 2025)
            & (ev["date"] == pd.Timestamp(SPRING_FESTIVAL[2025]) + pd.Timedelta(days=offset))
        ]
        last = ev[
            (ev["year"] == 2024)
            & (ev["date"] == pd.Timestamp(SPRING_FESTIVAL[2024]) + pd.Timedelta(days=offset))
        ]
        assert row["people"] == this["people"].sum()
        assert row["people_last"] == last["people"].sum()
        assert row["date"] == pd.Timestamp(SPRING_FESTIVAL[2025]) + pd.Timedelta(days=offset)


def test_shifted_filter_keeps_distance_to_the_festival() -> None:
    f = c.Filters(2025, dt.date(2025, 1, 19), dt.date(2025, 1, 29)).shifted_to(2024)
    assert (f.date_from, f.date_to) == (dt.date(2024, 1, 31), dt.date(2024, 2, 10))


def test_completion_against_targets_ranks_laggards_first(
    demo_data_dir: Path, demo_tables: dict, ev: pd.DataFrame
) -> None:
    got = c.completion_by_province(demo_data_dir, c.Filters(2025))
    targets = demo_tables["targets"].groupby("province_adcode")["target_people"].sum()
    actual = ev[ev["year"] == 2025].groupby("province_adcode")["people"].sum()
    want = (actual / targets).dropna()
    assert dict(zip(got["adcode"], got["completion"], strict=True)) == pytest.approx(want.to_dict())
    assert got["completion"].is_monotonic_increasing
    assert list(got["rank"]) == list(range(1, len(got) + 1))


def test_checkins_per_cell_match_pandas_join(demo_data_dir: Path, demo_tables: dict) -> None:
    ch, stn = demo_tables["checkins"], demo_tables["stations"]
    d0, d1 = dt.date(2025, 1, 20), dt.date(2025, 2, 3)
    got = c.checkins_by(demo_data_dir, "cell", res=6, date_from=d0, date_to=d1)
    j = ch.assign(station_id=ch["station_id"].astype(str)).merge(
        pd.DataFrame(stn[["station_id", "h3_9"]]).astype(str), on="station_id"
    )
    j = j[
        (pd.to_datetime(j["date"].astype(str)) >= pd.Timestamp(d0))
        & (pd.to_datetime(j["date"].astype(str)) <= pd.Timestamp(d1))
    ]
    j["h3"] = [h3.cell_to_parent(x, 6) for x in j["h3_9"]]
    want = j.groupby("h3").agg(visits=("visits", "sum"), stations=("station_id", "nunique"))
    got = got.set_index("h3")
    assert got["visits"].to_dict() == want["visits"].to_dict()
    assert got["stations"].to_dict() == want["stations"].to_dict()
    days = (d1 - d0).days + 1
    np.testing.assert_allclose(got["visits_per_station_day"], want["visits"] / (want["stations"] * days))


def test_empty_selection_gives_zero_totals_and_no_rows(demo_data_dir: Path) -> None:
    f = c.Filters(2025, dt.date(2030, 1, 1), dt.date(2030, 1, 2))
    assert c.campaign_total(demo_data_dir, f) == {"people": 0, "events": 0, "funds_yuan": 0.0}
    out = publication.publish(demo_data_dir, "county", f, k=K)
    assert out["rows"].empty
    assert out["total"]["people"] == 0
    assert not out["total"]["withheld"]
    view = publication.campaign_view(demo_data_dir, f, k=K)
    assert view.total["people"] == 0
    assert view.hex_frames.empty
    assert view.regions.empty


@pytest.mark.parametrize(
    "bad",
    [
        {"categories": ("hardship' OR 1=1 --",)},
        {"region": "440000' OR '1'='1"},
        {"region": "44"},
        {"date_from": "2025-13-01"},
        {"date_from": dt.date(2025, 2, 1), "date_to": dt.date(2025, 1, 1)},
        {"year": 2019},
    ],
)
def test_bad_filters_are_refused_with_a_message(demo_data_dir: Path, bad: dict) -> None:
    with pytest.raises(InputError):
        c.campaign_by(demo_data_dir, "province", c.Filters(**bad)) if "year" not in bad else c.daily_yoy(
            demo_data_dir, c.Filters(**bad)
        )


def test_user_values_never_enter_the_sql_text() -> None:
    f = c.Filters(2025, dt.date(2025, 1, 2), dt.date(2025, 1, 9), ("hardship",), "440305").checked()
    sql, params = c._sql_campaign(["county", "hex"], f)
    for value in ("440305", "hardship", "2025-01-02", "2025"):
        assert value not in sql
    assert params["region"] == "440305"


def test_bad_grouping_and_resolution_are_refused(demo_data_dir: Path) -> None:
    with pytest.raises(InputError, match="cannot group"):
        c.campaign_by(demo_data_dir, "street")
    with pytest.raises(InputError, match="resolution"):
        c.campaign_by(demo_data_dir, "hex", res=10)
    with pytest.raises(InputError):
        c.campaign_by(demo_data_dir, ["province", "county"])


def test_missing_dataset_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataMissingError, match="generate"):
        c.campaign_by(tmp_path, "province")


# ---------------------------------------------------------------- suppression: hand-worked


def _rows_and_total(people: list[int], k: int = K) -> dict[str, pd.DataFrame]:
    atoms = pd.DataFrame({"region": [chr(97 + i) for i in range(len(people))], "people": people})
    return privacy.publish_together(atoms, {"rows": ["region"], "total": []}, k)


def test_single_small_cell_gets_a_complement_so_the_total_cannot_reveal_it() -> None:
    atoms = pd.DataFrame(
        {"region": list("abcd"), "people": [3, 50, 20, 400], "funds_yuan": [900.0, 1e4, 5e3, 9e4]}
    )
    out = privacy.publish_together(atoms, {"rows": ["region"], "total": []}, K, measures=c.MEASURES[::2])
    rows = out["rows"]
    # 3 is small; 20 is the smallest publishable row, withheld to protect it (3 + 20 = 23 ≥ 10 + 1).
    assert rows["withheld"].tolist() == [True, False, True, False]
    assert rows["people"].isna().tolist() == [True, False, True, False]
    assert rows["funds_yuan"].isna().tolist() == [True, False, True, False]
    assert out["total"]["people"].tolist() == [473]


def test_two_small_cells_of_one_person_each_are_not_left_pinned() -> None:
    # 1 + 1 + 30 withheld: 32 leaves room for either 1 to be 10 or more.
    assert _rows_and_total([1, 1, 30, 40])["rows"]["withheld"].tolist() == [True, True, True, False]


def test_nothing_is_withheld_when_all_counts_reach_k_or_are_zero() -> None:
    atoms = pd.DataFrame({"region": list("abc"), "people": [0, 10, 11]})
    out = privacy.publish_together(atoms, {"rows": ["region"], "total": []}, K)
    assert not out["rows"]["withheld"].any()
    assert not out["total"]["withheld"].any()


def test_two_small_rows_beside_their_total_are_withheld_and_the_total_stays() -> None:
    out = _rows_and_total([9, 9])  # 18 = 9 + 9: a reader can only say each is 1..17
    assert out["rows"]["withheld"].all()
    assert out["total"]["people"].tolist() == [18]


def test_small_total_is_withheld() -> None:
    out = _rows_and_total([4])
    assert out["total"]["withheld"].all()
    assert out["total"]["people"].isna().all()


# ---------------------------------------------------------------- suppression: properties


def _brute_force_highest(values: list[int], withheld: list[bool]) -> list[int]:
    """Enumerate every assignment a reader finds consistent (each withheld row ≥ 1, the total
    minus the published rows shared among them); the highest value each withheld row can take."""
    s = sum(v for v, w in zip(values, withheld, strict=True) if w)
    idx = [i for i, w in enumerate(withheld) if w]
    highest = [0] * len(idx)
    for combo in itertools.product(*[range(1, s + 1)] * len(idx)):
        if sum(combo) == s:
            highest = [max(h, x) for h, x in zip(highest, combo, strict=True)]
    return highest


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(min_value=1, max_value=14), min_size=1, max_size=4),
    k=st.integers(min_value=2, max_value=5),
)
def test_no_small_count_can_be_shown_small_from_rows_and_total_brute_force(values: list[int], k: int) -> None:
    out = _rows_and_total(values, k)
    withheld = out["rows"]["withheld"].tolist()
    primary = [1 <= v < k for v in values]
    assert all(w for w, p in zip(withheld, primary, strict=True) if p), "every small count is withheld"
    published = out["rows"]["people"].dropna().astype(int).tolist()
    assert all(v >= k for v in published)
    if out["total"]["withheld"].all():  # nothing can be subtracted from a withheld total
        return
    highest = _brute_force_highest(values, withheld)
    small_withheld = [p for p, w in zip(primary, withheld, strict=True) if w]
    assert all(h >= k for h, p in zip(highest, small_withheld, strict=True) if p)


def test_published_outputs_of_the_demo_withhold_every_small_figure(demo_data_dir: Path) -> None:
    for by, filters in [
        ("county", c.Filters(2025, categories=("model",))),
        ("hex", c.Filters(2025)),
        ("city", c.Filters(2024, dt.date(2024, 2, 1), dt.date(2024, 2, 3))),
    ]:
        out = publication.publish(demo_data_dir, by, filters, k=K, res=8)
        rows, total = out["rows"], out["total"]
        raw = c.campaign_by(demo_data_dir, by, filters, res=8)
        assert len(rows) == len(raw)
        small = (raw["people"] >= 1) & (raw["people"] < K)
        assert small.any(), "the case has small figures"
        key = "h3" if by == "hex" else "adcode"
        hidden = rows.set_index(key)["withheld"]
        assert hidden[raw.loc[small, key]].all()
        assert rows.loc[rows["withheld"], ["people", "events", "funds_yuan"]].isna().all().all()
        assert (rows["people"].dropna() >= K).all()
        if total["people"] is not None:
            n_hidden = int(rows["withheld"].sum())
            assert n_hidden == 0 or n_hidden >= 2, "one withheld row would equal total minus the rest"
            assert (
                total["people"] - rows["people"].dropna().sum()
                == raw.set_index(key)["people"][hidden[hidden].index].sum()
            )


def test_hex_day_frames_respect_the_cell_cap_and_withhold(demo_data_dir: Path) -> None:
    view = publication.campaign_view(demo_data_dir, c.Filters(2025), k=K, res=9, max_cells=50)
    rows = view.hex_frames
    assert view.frame_res < 9
    assert len(rows) > 0
    assert rows.groupby("date").size().max() <= 50 or view.frame_res == c.MIN_HEX_RES
    assert rows.loc[rows["withheld"], "people"].isna().all()
    assert (rows["people"].dropna() >= K).all()
    assert view.cell_res <= view.frame_res
    assert len(view.cells) <= 50 or view.cell_res == c.MIN_HEX_RES


def test_checkin_cells_withhold_small_visit_counts(demo_data_dir: Path) -> None:
    view = publication.checkins_view(
        demo_data_dir, k=K, res=8, date_from=dt.date(2025, 1, 28), date_to=dt.date(2025, 1, 30)
    )
    for out in (view.frames, view.cells):
        vis = out["visits"].dropna()
        assert len(vis) > 0
        assert ((vis >= K) | (vis == 0)).all()
        assert out["withheld"].any()
        assert out.loc[out["withheld"], "visits_per_station_day"].isna().all()
    busy = view.busiest(5)
    assert 0 < len(busy) <= 5
    assert busy["visits_per_station_day"].is_monotonic_decreasing
    assert busy["visits_per_station_day"].is_monotonic_decreasing


def test_kpis_report_targets_and_yoy(demo_data_dir: Path, ev: pd.DataFrame, demo_tables: dict) -> None:
    got = publication.campaign_view(demo_data_dir, c.Filters(2025), k=K, res=5)
    this = ev.loc[ev["year"] == 2025, "people"].sum()
    last = ev.loc[ev["year"] == 2024, "people"].sum()  # whole campaigns: same span of days
    assert got.total["people"] == this
    assert got.yoy_people == pytest.approx(this / last - 1)
    assert got.target_people == demo_tables["targets"]["target_people"].sum()
    assert got.completion == pytest.approx(this / got.target_people)
    city = ev.loc[ev["year"] == 2025, "city_adcode"].iloc[0]
    if not city.endswith("0000"):
        view = publication.campaign_view(
            demo_data_dir, c.Filters(2025, region=city), k=K, region_level="county"
        )
        assert view.target_people is None


def test_locked_bins_are_shared_increasing_and_cover_every_frame() -> None:
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 500, 40).astype(float) for _ in range(6)]
    edges = c.locked_bins(np.concatenate(frames))
    assert len(edges) == 6
    assert all(b > a for a, b in itertools.pairwise(edges))
    assert edges[0] == 0
    assert edges[-1] >= max(f.max() for f in frames)
    assert c.locked_bins([np.nan, 0]) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def _tiny_sources(tmp_path: Path, demo_data_dir: Path, rows: list[tuple[str, int]]) -> c.Sources:
    base = c.Sources.from_data_dir(demo_data_dir)
    n = len(rows)
    df = pd.DataFrame(
        {
            "event_id": [f"E{i}" for i in range(n)],
            "year": np.int16(2025),
            "date": [dt.date(2025, 1, 20)] * n,
            "category": [r[0] for r in rows],
            "people": np.array([r[1] for r in rows], dtype="int32"),
            "funds_yuan": 500.0,
            "organizer_level": "city",
            "lat": 22.5,
            "lng": 114.0,
            "adcode": "440305",
            "province_adcode": "440000",
            "province": "广东省",
            "city_adcode": "440300",
            "city": "深圳市",
            "county": "南山区",
            "h3_9": h3.latlng_to_cell(22.5, 114.0, 9),
        }
    )
    path = tmp_path / "campaign.parquet"
    df.to_parquet(path, index=False)
    return c.Sources(path, base.targets, base.checkins, base.stations)


def test_small_categories_beside_their_total_are_withheld_everywhere_on_the_page(
    tmp_path: Path, demo_data_dir: Path
) -> None:
    src = _tiny_sources(tmp_path, demo_data_dir, [("hardship", 9), ("model", 9)])  # 18 = 9 + 9 only
    out = publication.publish(src, "province", c.Filters(2025), k=K)
    assert out["total"]["people"] == 18
    assert all(v["people"] is None and v["withheld"] for v in out["total"]["by_category"].values())
    view = publication.campaign_view(src, c.Filters(2025), k=K)
    assert view.total["people"] == 18
    assert all(v["people"] is None for v in view.by_category.values())
    assert view.completion == pytest.approx(18 / view.target_people)


def test_a_small_selection_withholds_its_total_completion_and_every_row(
    tmp_path: Path, demo_data_dir: Path
) -> None:
    src = _tiny_sources(tmp_path, demo_data_dir, [("hardship", 4), ("model", 3)])
    out = publication.publish(src, "province", c.Filters(2025), k=K)
    assert out["total"]["people"] is None
    assert out["total"]["withheld"]
    view = publication.campaign_view(src, c.Filters(2025), k=K)
    assert view.total["people"] is None
    assert view.completion is None
    assert view.regions["withheld"].all()
    assert view.hex_frames["withheld"].all()
    assert view.daily["withheld"].all()


def test_one_small_category_beside_a_large_one_is_protected(tmp_path: Path, demo_data_dir: Path) -> None:
    src = _tiny_sources(tmp_path, demo_data_dir, [("hardship", 4), ("priority", 300), ("model", 50)])
    cats = publication.publish(src, "province", c.Filters(2025), k=K)["total"]["by_category"]
    assert cats["hardship"]["people"] is None
    assert cats["model"]["people"] is None  # withheld so that 354 - 300 does not give 4 away
    assert cats["priority"]["people"] == 300


def test_whole_range_cells_are_coarsened_to_the_cap(demo_data_dir: Path) -> None:
    view = publication.campaign_view(demo_data_dir, c.Filters(2025), k=K, res=9, max_cells=100)
    assert view.cell_res < 9
    assert len(view.cells) <= 100 or view.cell_res == c.MIN_HEX_RES
    total = c.campaign_total(demo_data_dir, c.Filters(2025))["people"]
    assert int(view.cells["people"].sum()) <= total
    assert view.total["people"] == total
