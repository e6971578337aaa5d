"""Demo generator: calibration to published figures, determinism, real geography."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo import synth
from geo.schema import AMENITIES, CATEGORIES, OCCUPATIONS, OPTIONAL_COLUMNS, STATION_KINDS, TABLES

from .conftest import TEST_SCALE

C = synth.CALIBRATION


def test_every_table_has_the_schema_columns(demo_tables: dict[str, pd.DataFrame]) -> None:
    for name, table in TABLES.items():
        optional = list(OPTIONAL_COLUMNS.get(name, {}))
        assert list(demo_tables[name].columns) == [*table.columns, *optional], name


def test_station_counts_match_published_figures_at_scale(demo_tables: dict[str, pd.DataFrame]) -> None:
    st = demo_tables["stations"]
    assert len(st) == round(C.stations * TEST_SCALE)
    assert st["open_24h"].sum() == round(C.open_24h * TEST_SCALE)
    assert st["extended_hours"].sum() == round(C.extended_hours * TEST_SCALE)
    assert not (st["open_24h"] & st["extended_hours"]).any()
    assert st["smart"].sum() == round(C.smart * TEST_SCALE)
    has = {a: st["amenities"].map(lambda xs, a=a: a in xs).sum() for a in AMENITIES.values}
    assert has["medicine"] == round(C.medicine * TEST_SCALE)
    assert has["battery_swap"] == round(C.battery_swap * TEST_SCALE)
    assert has["meals"] == round(C.meals * TEST_SCALE)
    assert st["station_id"].is_unique
    assert st["name"].is_unique
    assert set(st["kind"]) <= set(STATION_KINDS.values)
    assert set(np.concatenate(st["amenities"].to_numpy())) <= set(AMENITIES.values)


def test_extended_hours_flag_agrees_with_the_hours(demo_tables: dict[str, pd.DataFrame]) -> None:
    hours = pytest.importorskip("geo.hours")
    st = demo_tables["stations"]
    opens = hours.parse_hhmm(st["opens"])
    closes = hours.parse_hhmm(st["closes"])
    assert (
        hours.is_extended_hours(opens, closes, st["open_24h"].to_numpy()) == st["extended_hours"].to_numpy()
    ).all()
    assert (st.loc[st["open_24h"], "opens"] == "00:00").all()


def test_workers_total_and_occupations(demo_tables: dict[str, pd.DataFrame]) -> None:
    wp = demo_tables["workplaces"]
    assert len(wp) == round(C.workplaces * TEST_SCALE)
    assert wp["workers"].sum() == round(C.workers * TEST_SCALE)
    assert (wp["workers"] >= 1).all()
    assert set(wp["occupation"]) <= set(OCCUPATIONS.values)
    assert wp["workplace_id"].is_unique


def test_campaign_2025_people_per_category_are_exact(demo_tables: dict[str, pd.DataFrame]) -> None:
    ev = demo_tables["campaign"]
    got = synth.categories_total(ev, 2025)
    want = {c: round(v * TEST_SCALE) for c, v in C.campaign_2025}
    assert got == want
    assert set(ev["category"]) == set(CATEGORIES.values)
    # earlier campaigns plausibly lower
    total = {y: sum(synth.categories_total(ev, y).values()) for y in (2023, 2024, 2025)}
    assert total[2023] < total[2024] < total[2025]
    assert (ev["people"] >= 1).all()
    assert (ev["funds_yuan"] > 0).all()
    assert ev["event_id"].is_unique


def test_campaign_events_fall_around_their_spring_festival(demo_tables: dict[str, pd.DataFrame]) -> None:
    from geo.schema import SPRING_FESTIVAL

    ev = demo_tables["campaign"]
    for year, sf in SPRING_FESTIVAL.items():
        days = (pd.to_datetime(ev.loc[ev["year"] == year, "date"]) - pd.Timestamp(sf)).dt.days
        assert days.between(-45, 15).all()


def test_checkins_cover_every_station_and_day_with_the_published_daily_volume(
    demo_tables: dict[str, pd.DataFrame],
) -> None:
    ck = demo_tables["checkins"]
    st = demo_tables["stations"]
    assert len(ck) == len(st) * 59
    per_day = ck.groupby("date")["visits"].sum()
    assert len(per_day) == 59
    assert per_day.mean() == pytest.approx(C.visits_per_day * TEST_SCALE, rel=0.02)
    assert (ck["visits"] >= 0).all()


def test_targets_exist_for_every_province_with_2025_events(demo_tables: dict[str, pd.DataFrame]) -> None:
    ev = demo_tables["campaign"]
    tg = demo_tables["targets"]
    provinces = set(ev.loc[ev["year"] == 2025, "province_adcode"])
    assert set(tg["province_adcode"]) == provinces
    assert (tg["target_people"] > 0).all()


def test_every_point_is_inside_china_and_tagged(demo_tables: dict[str, pd.DataFrame]) -> None:
    from geo import regions

    for name in ("stations", "workplaces", "campaign"):
        df = demo_tables[name]
        assert df["adcode"].notna().all(), name
        assert df["adcode"].str.fullmatch(r"\d{6}").all(), name
        assert regions.inside_china(df["lat"].to_numpy(), df["lng"].to_numpy()).all(), name
        # tags agree with an independent spatial join on a sample
        sample = df.sample(200, random_state=0)
        again = regions.tag_points(sample["lat"].to_numpy(), sample["lng"].to_numpy())
        assert (again["adcode"].to_numpy() == sample["adcode"].to_numpy()).all(), name


def test_points_follow_population(demo_tables: dict[str, pd.DataFrame]) -> None:
    st = demo_tables["stations"]
    by_province = st["province"].value_counts()
    # populous provinces get far more stations than the sparse west
    assert by_province.get("广东省", 0) > 5 * by_province.get("青海省", 0)
    assert by_province.get("河南省", 0) > by_province.get("西藏自治区", 0)


def test_same_seed_gives_identical_tables_and_another_seed_differs(
    demo_tables: dict[str, pd.DataFrame],
) -> None:
    again = synth.generate(scale=TEST_SCALE, seed=42)
    for name in TABLES:
        pd.testing.assert_frame_equal(again[name], demo_tables[name], obj=name)
    other = synth.generate(scale=TEST_SCALE, seed=7)
    assert not other["stations"]["lat"].equals(demo_tables["stations"]["lat"])


def test_scale_out_of_range_is_refused() -> None:
    from geo.errors import InputError

    with pytest.raises(InputError, match="scale"):
        synth.generate(scale=0)


def test_demo_stations_have_known_services(demo_tables: dict[str, pd.DataFrame]) -> None:
    assert demo_tables["stations"]["amenities_known"].to_numpy(dtype=bool).all()
