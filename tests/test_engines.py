"""Engines: the same frames on every engine (DuckDB/Arrow here, partials here, Dask), on both storage layouts.

The cluster is a ``LocalCluster`` of 2 workers, 1 thread each, in this process
(``processes=False``: worker processes cost several seconds to spawn; the code paths —
scattering, task graphs, pickling of partials — are the same). ``make bench`` runs the
real 2-process local cluster.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo import campaign, coverage, engines, hexes, publication, store, synth
from geo.engines import LOCAL, DaskEngine, LocalEngine
from geo.engines import dask as dask_engine
from geo.errors import InputError
from geo.nearest import StationIndex
from geo.settings import load_settings
from tests.partials import PartialsHere

distributed = pytest.importorskip("distributed")


@pytest.fixture
def dask(partials_engine: engines.Engine) -> engines.Engine:
    """An engine that aggregates by partials (see tests/conftest.py)."""
    return partials_engine


def _with_province(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    ck = tables["checkins"]
    prov = tables["stations"].set_index(tables["stations"]["station_id"].astype(str))["province_adcode"]
    return ck.assign(province_adcode=ck["station_id"].astype(str).map(prov).to_numpy())


@pytest.fixture(scope="module")
def partitioned_dir(tmp_path_factory: pytest.TempPathFactory, demo_tables: dict[str, pd.DataFrame]) -> Path:
    """The demo dataset with check-ins stored hive-partitioned (year/month/province)."""
    d = tmp_path_factory.mktemp("partitioned")
    others = {k: v for k, v in demo_tables.items() if k != "checkins"}
    store.write_partitioned(d, "checkins", iter([_with_province(demo_tables)]), tables=others)
    return d


def _same(a: pd.DataFrame, b: pd.DataFrame, keys: list[str] | None = None) -> None:
    if keys:
        a = a.sort_values(keys).reset_index(drop=True)
        b = b.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


# ---------------------------------------------------------------- campaign

FILTERS = [
    campaign.Filters(),
    campaign.Filters(
        2024,
        date_from=dt.date(2024, 1, 1),
        date_to=dt.date(2024, 2, 20),
        categories=("priority", "model"),
        region="440000",
    ),
]


@pytest.mark.parametrize("by", ["province", "county", ["hex", "day"], "day", [], ["city", "category"]])
@pytest.mark.parametrize("filters", FILTERS, ids=["all-2025", "filtered-2024"])
def test_campaign_aggregation_is_the_same_on_dask_and_duckdb(
    demo_data_dir: Path, dask: engines.Engine, by: object, filters: campaign.Filters
) -> None:
    duck = campaign.campaign_by(demo_data_dir, by, filters, res=7, engine=LOCAL)  # type: ignore[arg-type]
    got = campaign.campaign_by(demo_data_dir, by, filters, res=7, engine=dask)  # type: ignore[arg-type]
    assert len(duck) > 0
    pd.testing.assert_frame_equal(duck, got)


def test_campaign_by_province_on_dask_matches_a_pandas_count(
    demo_data_dir: Path, demo_tables: dict[str, pd.DataFrame], dask: engines.Engine
) -> None:
    ev = demo_tables["campaign"]
    ev = ev[(ev["year"] == 2025) & (ev["category"] == "hardship")]
    expected = ev.groupby("province_adcode")["people"].sum()
    got = campaign.campaign_by(
        demo_data_dir, "province", campaign.Filters(categories=("hardship",)), engine=dask
    )
    assert dict(zip(got["adcode"], got["people"], strict=True)) == {
        str(k): int(v) for k, v in expected.items()
    }
    assert int(got["events"].sum()) == len(ev)


def test_published_figures_are_the_same_on_either_engine(demo_data_dir: Path, scheduler: str) -> None:
    f = campaign.Filters(categories=("hardship",))
    duck = publication.publish(demo_data_dir, "county", f, k=10, engine=LOCAL)
    dask = publication.publish(demo_data_dir, "county", f, k=10, engine=DaskEngine(scheduler))
    assert duck["total"] == dask["total"]
    assert duck["rows"]["withheld"].any()  # the check means something: rows were withheld
    pd.testing.assert_frame_equal(duck["rows"], dask["rows"])


def test_publication_forwards_its_engine_to_every_aggregation(
    demo_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, object]] = []
    for name in ("campaign_by", "checkins_by", "targets_by_province"):
        real = getattr(campaign, name)

        def spy(*a: object, _real: object = real, _name: str = name, **kw: object) -> object:
            seen.append((_name, kw.get("engine")))
            return _real(*a, **kw)  # type: ignore[operator]

        monkeypatch.setattr(campaign, name, spy)
    eng = PartialsHere()
    f = campaign.Filters(2025, categories=("hardship",), region="630000")
    publication.campaign_view(demo_data_dir, f, k=10, region_level="city", res=6, engine=eng)
    publication.checkins_view(demo_data_dir, k=10, res=6, region="630000", engine=eng)
    publication.publish(demo_data_dir, "city", f, k=10, engine=eng)
    names = {n for n, _ in seen}
    assert names == {"campaign_by", "checkins_by", "targets_by_province"}
    assert all(e is eng for _, e in seen), [n for n, e in seen if e is not eng]


def test_dashboard_view_is_the_same_on_either_engine(demo_data_dir: Path, dask: engines.Engine) -> None:
    f = campaign.Filters(2025, categories=("hardship",))
    duck = publication.campaign_view(demo_data_dir, f, k=10, region_level="province", res=5, engine=LOCAL)
    got = publication.campaign_view(demo_data_dir, f, k=10, region_level="province", res=5, engine=dask)
    assert duck.total == got.total
    assert duck.by_category == got.by_category
    assert duck.hex_frames["withheld"].any()  # the check means something: figures were withheld
    for name in ("hex_frames", "cells", "daily", "regions", "region_frames"):
        a, b = getattr(duck, name), getattr(got, name)
        keys = [c for c in ("h3", "adcode", "date", "day_offset") if c in a.columns]
        pd.testing.assert_frame_equal(
            a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True), obj=name
        )


def test_campaign_selection_with_no_events_gives_an_empty_frame_on_both(
    demo_data_dir: Path, dask: engines.Engine
) -> None:
    f = campaign.Filters(2025, date_from=dt.date(2025, 6, 1))
    duck = campaign.campaign_by(demo_data_dir, "province", f, engine=LOCAL)
    got = campaign.campaign_by(demo_data_dir, "province", f, engine=dask)
    assert len(duck) == len(got) == 0
    assert list(duck.columns) == list(got.columns)
    zero = {"people": 0, "events": 0, "funds_yuan": 0.0}
    assert campaign.campaign_total(demo_data_dir, f, engine=dask) == zero


def test_stations_per_cell_and_targets_are_the_same(demo_data_dir: Path, dask: engines.Engine) -> None:
    _same(
        campaign.stations_per_cell(demo_data_dir, 6, engine=LOCAL),
        campaign.stations_per_cell(demo_data_dir, 6, engine=dask),
        ["h3"],
    )
    f = campaign.Filters(categories=("priority",), region="440300")
    pd.testing.assert_frame_equal(
        campaign.targets_by_province(demo_data_dir, f, engine=LOCAL),
        campaign.targets_by_province(demo_data_dir, f, engine=dask),
    )


# ---------------------------------------------------------------- check-ins

CHECKIN_CASES = [
    {"key": "cell", "res": 7},
    {"key": "cell", "res": 7, "by_day": True, "region": "440000"},
    {"key": "station", "by_day": True, "date_from": dt.date(2025, 2, 1), "date_to": dt.date(2025, 2, 9)},
]


@pytest.mark.parametrize("kw", CHECKIN_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_checkin_aggregation_is_the_same_on_both_engines_and_layouts(
    demo_data_dir: Path, partitioned_dir: Path, dask: engines.Engine, kw: dict
) -> None:
    ref = campaign.checkins_by(demo_data_dir, **kw, engine=LOCAL)
    assert len(ref) > 0
    pd.testing.assert_frame_equal(ref, campaign.checkins_by(demo_data_dir, **kw, engine=dask))
    pd.testing.assert_frame_equal(ref, campaign.checkins_by(partitioned_dir, **kw, engine=LOCAL))
    pd.testing.assert_frame_equal(ref, campaign.checkins_by(partitioned_dir, **kw, engine=dask))


def test_checkins_per_cell_on_dask_match_a_pandas_count(
    demo_data_dir: Path, demo_tables: dict[str, pd.DataFrame], dask: engines.Engine
) -> None:
    st = demo_tables["stations"].assign(
        h3=lambda s: hexes.int_to_str(hexes.cells_to_parent_int(hexes.str_to_int(s["h3_9"]), 6))
    )
    ck = (
        demo_tables["checkins"]
        .astype({"station_id": str})
        .merge(st[["station_id", "h3"]].astype({"station_id": str}), on="station_id")
    )
    expected = ck.groupby("h3").agg(
        visits=("visits", "sum"), stations=("station_id", "nunique"), days=("date", "nunique")
    )
    got = campaign.checkins_by(demo_data_dir, "cell", res=6, engine=dask).set_index("h3")
    assert got["visits"].to_dict() == expected["visits"].to_dict()
    assert got["stations"].to_dict() == expected["stations"].to_dict()
    assert set(got["days"]) == {59}


def test_duplicate_checkin_rows_count_each_station_and_day_once(
    tmp_path: Path, demo_tables: dict[str, pd.DataFrame], dask: engines.Engine
) -> None:
    """A (station, day) logged twice, in two different files: visits add up, counts do not."""
    everywhere = _with_province(demo_tables)
    frames = everywhere[everywhere["province_adcode"] == "110000"]
    elsewhere = everywhere[everywhere["province_adcode"] != "110000"]
    dup = frames.iloc[:50]
    others = {k: v for k, v in demo_tables.items() if k != "checkins"}
    # Beijing's file is closed by the chunk that skips it, so the duplicates open a second one.
    store.write_partitioned(tmp_path, "checkins", iter([frames, elsewhere, dup]), tables=others)
    beijing = store.version_dir(tmp_path) / "checkins"
    chunk_files = {f.name for f in beijing.rglob("*.parquet") if "province_adcode=110000" in str(f)}
    assert chunk_files == {"part-00000.parquet", "part-00002.parquet"}
    for by_day in (False, True):
        duck = campaign.checkins_by(tmp_path, "station", by_day=by_day, region="110000", engine=LOCAL)
        got = campaign.checkins_by(tmp_path, "station", by_day=by_day, region="110000", engine=dask)
        pd.testing.assert_frame_equal(duck, got)
    assert len(got) > 0
    assert got["stations"].max() == 1


def test_checkins_outside_the_log_give_empty_frames(demo_data_dir: Path, dask: engines.Engine) -> None:
    kw = {"key": "cell", "date_from": dt.date(2030, 1, 1)}
    duck = campaign.checkins_by(demo_data_dir, **kw, engine=LOCAL)
    got = campaign.checkins_by(demo_data_dir, **kw, engine=dask)
    assert len(duck) == len(got) == 0
    assert list(duck.columns) == list(got.columns)


# ---------------------------------------------------------------- coverage


@pytest.fixture(scope="module")
def index(demo_tables: dict[str, pd.DataFrame]) -> StationIndex:
    return StationIndex.from_frame(demo_tables["stations"])


@pytest.mark.parametrize("filters", [{}, {"open_at_min": 120, "amenities": ["hot_water"]}])
def test_nearest_distances_are_the_same_on_dask(
    demo_tables: dict[str, pd.DataFrame], index: StationIndex, dask: engines.Engine, filters: dict
) -> None:
    wp = demo_tables["workplaces"]
    duck = coverage.nearest_distance_m(wp, index, engine=LOCAL, **filters)
    got = coverage.nearest_distance_m(wp, index, **filters, engine=dask)
    assert len(got) == len(wp) > 0
    np.testing.assert_array_equal(duck, got)
    assert np.isfinite(got).all()


@pytest.mark.parametrize(
    "kw", [{"res": 7}, {"res": 8, "top": 25, "parent": "440000"}, {"res": 6, "occupations": ["courier"]}]
)
def test_gap_cells_are_the_same_on_dask(
    demo_tables: dict[str, pd.DataFrame], index: StationIndex, dask: engines.Engine, kw: dict
) -> None:
    wp = demo_tables["workplaces"]
    covered = coverage.nearest_distance_m(wp, index, engine=LOCAL) <= 1000.0
    duck = coverage.gap_cells(wp, covered, engine=LOCAL, **kw)
    assert len(duck) > 0
    pd.testing.assert_frame_equal(duck, coverage.gap_cells(wp, covered, **kw, engine=dask))


def test_gap_cells_with_everyone_covered_are_empty_on_both(
    demo_tables: dict[str, pd.DataFrame], dask: engines.Engine
) -> None:
    wp = demo_tables["workplaces"]
    covered = np.ones(len(wp), dtype=bool)
    duck = coverage.gap_cells(wp, covered, 7, engine=LOCAL)
    got = coverage.gap_cells(wp, covered, 7, engine=dask)
    assert len(duck) == len(got) == 0
    assert list(duck.columns) == list(got.columns)


# ---------------------------------------------------------------- storage and generation


def test_partitioned_table_reads_back_as_the_same_rows(
    demo_data_dir: Path, partitioned_dir: Path, demo_tables: dict[str, pd.DataFrame]
) -> None:
    files = sorted((store.version_dir(partitioned_dir) / "checkins").rglob("*.parquet"))
    assert files
    assert all(
        f.relative_to(store.version_dir(partitioned_dir) / "checkins").parts[0].startswith("year=")
        for f in files
    )
    assert {f.name for f in files} == {"part-00000.parquet"}
    back = store.read_table(partitioned_dir, "checkins")
    assert list(back.columns) == ["station_id", "date", "visits"]
    want = demo_tables["checkins"].astype({"station_id": str})
    key = ["station_id", "date"]
    a = back.astype({"station_id": str}).sort_values(key).reset_index(drop=True)
    b = want.sort_values(key).reset_index(drop=True)
    assert len(a) == len(b) > 0
    assert (a["station_id"].to_numpy() == b["station_id"].to_numpy()).all()
    assert (a["visits"].to_numpy() == b["visits"].to_numpy()).all()
    parts = store.read_table(
        partitioned_dir, "checkins", columns=["station_id", "province_adcode", "year", "month"]
    )
    assert set(parts["year"]) == {2025}
    assert set(parts["month"]) == {1, 2}
    assert store.read_manifest(partitioned_dir)["row_counts"]["checkins"] == len(want)


def test_a_failure_mid_write_leaves_the_previous_version_current(
    fresh_data_dir: Path, demo_tables: dict[str, pd.DataFrame]
) -> None:
    before = store.current_version(fresh_data_dir)
    versions = store.list_version_ids(fresh_data_dir)
    frames = _with_province(demo_tables)

    def chunks() -> Iterator[pd.DataFrame]:
        yield frames.iloc[:1000]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.write_partitioned(fresh_data_dir, "checkins", chunks())
    assert store.current_version(fresh_data_dir) == before
    assert store.list_version_ids(fresh_data_dir) == versions
    assert not [p for p in (fresh_data_dir / "versions").iterdir() if p.name.startswith(".tmp-")]
    assert len(store.read_table(fresh_data_dir, "checkins")) == len(frames)


def test_a_chunk_without_the_partition_column_is_refused(
    fresh_data_dir: Path, demo_tables: dict[str, pd.DataFrame]
) -> None:
    before = store.current_version(fresh_data_dir)
    with pytest.raises(Exception, match="province_adcode"):
        store.write_partitioned(fresh_data_dir, "checkins", iter([demo_tables["checkins"]]))
    assert store.current_version(fresh_data_dir) == before


def test_partitioned_version_links_the_other_tables_from_its_base(
    fresh_data_dir: Path, demo_tables: dict[str, pd.DataFrame]
) -> None:
    v = store.write_partitioned(fresh_data_dir, "checkins", iter([_with_province(demo_tables)]))
    assert store.current_version(fresh_data_dir) == v
    for name in ("stations", "workplaces", "campaign", "targets"):
        assert len(store.read_table(fresh_data_dir, name)) == len(demo_tables[name])


def test_checkin_chunks_do_not_depend_on_the_chunking(demo_tables: dict[str, pd.DataFrame]) -> None:
    st, wp = demo_tables["stations"], demo_tables["workplaces"]
    by_week = list(synth.checkin_chunks(st, wp, 40, scale=0.01, seed=3))
    assert len(by_week) == 6  # 5 weeks and 5 days
    by_month = pd.concat(
        synth.checkin_chunks(st, wp, 40, scale=0.01, seed=3, chunk="month"), ignore_index=True
    )
    by_day = list(synth.checkin_chunks(st, wp, 40, scale=0.01, seed=3, chunk="day"))
    assert len(by_day) == 40
    pd.testing.assert_frame_equal(by_month, pd.concat(by_day, ignore_index=True))
    pd.testing.assert_frame_equal(by_month, pd.concat(by_week, ignore_index=True))
    assert len(by_month) == 40 * len(st)
    # Same volume model as the demo log: ~2.31 M visits a day nationally, times the scale.
    mean_day = by_month["visits"].sum() / 40
    assert 0.85 * 23_097 < mean_day < 1.15 * 23_097


def test_generate_partitioned_long_log_from_the_command_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    demo_tables: dict[str, pd.DataFrame],
) -> None:
    from geo.cli import main

    def tables_without_log(**kw: object) -> dict[str, pd.DataFrame]:
        # The national tables are the session's demo tables (generating them again is slow);
        # the command must ask for them without the short demo log.
        assert kw.get("checkins") is False
        return {k: v for k, v in demo_tables.items() if k != "checkins"}

    monkeypatch.setattr(synth, "generate", tables_without_log)
    args = ["generate", "--scale", "0.01", "--checkins-days", "3", "--partitioned", "--json"]
    assert main([*args, "--data-dir", str(tmp_path)]) == 0
    m = json.loads(capsys.readouterr().out)
    n_st = len(demo_tables["stations"])
    assert m["row_counts"]["checkins"] == 3 * n_st
    assert m["checkins_days"] == 3
    assert m["partitioned"] == {"checkins": ["year", "month", "province_adcode"]}
    ck = store.read_table(tmp_path, "checkins")
    assert len(ck) == 3 * n_st
    assert sorted(pd.to_datetime(ck["date"]).dt.date.unique()) == [dt.date(2025, 1, d) for d in (1, 2, 3)]


# ---------------------------------------------------------------- engine choice


def test_unknown_engine_is_refused_with_the_choices() -> None:
    with pytest.raises(InputError, match="duckdb, dask"):
        engines.by_name("spark")


def test_settings_choose_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEO_ENGINE", "dask")
    monkeypatch.setenv("GEO_DASK_SCHEDULER", "tcp://10.0.0.5:8786")
    assert engines.from_settings(load_settings()) == DaskEngine("tcp://10.0.0.5:8786")
    monkeypatch.delenv("GEO_ENGINE")
    assert engines.from_settings(load_settings()) is LOCAL
    assert isinstance(LOCAL, engines.Engine)
    assert isinstance(DaskEngine(), engines.Engine)


def test_an_engine_is_a_plain_value() -> None:
    """Hashable and equal by its fields: a cache key, and nothing hidden in it (no client)."""
    import pickle

    e = DaskEngine("tcp://h:1")
    assert e == DaskEngine("tcp://h:1") != DaskEngine("")
    assert pickle.loads(pickle.dumps(e)) == e
    assert len({LOCAL, LocalEngine(), e}) == 2


def test_the_local_engine_maps_partials_over_every_row(demo_data_dir: Path) -> None:
    path = campaign.Sources.from_data_dir(demo_data_dir).campaign
    total = LOCAL.reduce_table(path, ["people"], lambda part: int(part["people"].sum()), sum)
    assert total == int(store.read_table(demo_data_dir, "campaign")["people"].sum()) > 0
    assert LOCAL.map_chunks(lambda a, b, c: a + b + c, [(1, 2), (3, 4)], engines.Broadcast(10)) == [13, 17]


def test_row_chunks_cover_every_row_once() -> None:
    for n, workers in ((0, 2), (1, 2), (7, 3), (250_001, 1)):
        chunks = engines.row_chunks(n, workers)
        covered = np.concatenate([np.arange(n)[s] for s in chunks]) if chunks else np.empty(0)
        np.testing.assert_array_equal(covered, np.arange(n))
        assert all(s.stop - s.start <= engines.ROWS_PER_TASK for s in chunks)


def test_dask_engine_without_dask_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(InputError, match=r"pip install '\.\[dask\]'"):
        dask_engine.client("")


@pytest.mark.parametrize(
    "command",
    [["campaign", "--by", "county", "--category", "hardship"], ["gaps", "--res", "7", "--top", "20"]],
)
def test_cli_gives_the_same_output_with_engine_dask(
    demo_data_dir: Path, scheduler: str, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    from geo.cli import main

    common = ["--data-dir", str(demo_data_dir), "--json"]
    assert main([*command, *common, "--engine", "duckdb"]) == 0
    duck = capsys.readouterr().out
    assert main([*command, *common, "--engine", "dask", "--scheduler", scheduler]) == 0
    dask = capsys.readouterr().out
    assert json.loads(duck)
    assert dask == duck


def test_a_new_version_on_a_partitioned_base_links_the_partitioned_table(tmp_path) -> None:
    """Importing (write_version) on top of a partitioned check-in log keeps the log."""
    from geo import store
    from geo.cli import main

    d = tmp_path / "data"
    assert (
        main(["generate", "--scale", "0.002", "--checkins-days", "3", "--partitioned", "--data-dir", str(d)])
        == 0
    )
    before = len(store.read_table(d, "checkins"))
    targets = store.read_table(d, "targets")
    v = store.write_version(d, {"targets": targets}, {"user": "t"})
    assert store.current_version(d) == v
    assert len(store.read_table(d, "checkins")) == before
    assert store.read_manifest(d)["row_counts"]["checkins"] == before
