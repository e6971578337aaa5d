"""Suppression across tables published together, attacked with a linear program.

The reader (``_attack``) is written here, independently of :mod:`geo.privacy`: it takes
every figure a publication shows, the structure of the events behind them (which finest
groups exist, built here with pandas and h3-py from the demo events), that counts are
not negative and that every shown row holds at least one person, and for each value
withheld for being small it asks scipy's ``linprog`` for the largest and smallest value
the figures allow. The largest must reach k: the reader cannot show that the value is
small, let alone what it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import h3
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from geo import campaign as c
from geo import privacy, publication
from geo.schema import SPRING_FESTIVAL

K = 10


# ---------------------------------------------------------------- the reader


def _attack(
    atoms: pd.DataFrame,
    shown: Sequence[tuple[Sequence[str], pd.DataFrame]],
    k: int,
    count_col: str = "people",
    ratios: Sequence[tuple[Sequence[str], pd.DataFrame, str, str]] = (),
) -> list[tuple[float, float, float]]:
    """Bounds a reader proves for each small withheld row: ``[(true, lowest, highest), ...]``.

    Parameters
    ----------
    atoms : pandas.DataFrame
        Finest groups (their count unknown to the reader, their existence known).
    shown : sequence of (keys, frame)
        Every published table: key columns and the published frame (``count_col`` null
        where withheld, ``withheld`` flag).
    ratios : sequence of (keys, frame, ratio column, base column)
        Published ratios ``count = ratio × base`` (completion × target), where not null.
    """
    n = len(atoms)
    eq_a, eq_b, ub_a, ub_b, targets = [], [], [], [], []
    truth = atoms[count_col].to_numpy(dtype=float)

    def rows(keys: Sequence[str], frame: pd.DataFrame) -> tuple[sp.csr_matrix, pd.DataFrame]:
        keys = list(keys)
        if keys:
            gid = atoms.groupby(keys, sort=False).ngroup().to_numpy()
            first = atoms.groupby(keys, sort=False).head(1)[keys].reset_index(drop=True)
            joined = first.merge(frame, on=keys, how="left", validate="one_to_one")
        else:
            gid = np.zeros(n, dtype=int)
            joined = frame.reset_index(drop=True)
        assert len(joined) == gid.max() + 1 if n else True
        assert joined["withheld"].notna().all(), "every group of events is shown as a row"
        m = sp.csr_matrix((np.ones(n), (gid, np.arange(n))), shape=(len(joined), n))
        return m, joined

    for keys, frame in shown:
        m, joined = rows(keys, frame)
        hidden = joined["withheld"].to_numpy(dtype=bool)
        vals = joined[count_col].astype("Float64")
        assert vals[hidden].isna().all()
        assert vals[~hidden].notna().all()
        eq_a.append(m[~hidden])
        eq_b.append(vals[~hidden].to_numpy(dtype=float))
        ub_a.append(-m[hidden])
        ub_b.append(-np.ones(int(hidden.sum())))
        true_rows = m @ truth
        for i in np.flatnonzero(hidden):
            if 1 <= true_rows[i] < k:
                targets.append((m[i], true_rows[i]))
    for keys, frame, ratio, base in ratios:
        m, joined = rows(keys, frame)
        ok = joined[ratio].notna().to_numpy() & joined[base].notna().to_numpy()
        eq_a.append(m[ok])
        eq_b.append((joined[ratio][ok].astype(float) * joined[base][ok].astype(float)).to_numpy())
    a_eq, b_eq = sp.vstack(eq_a, format="csr"), np.concatenate(eq_b)
    a_ub, b_ub = sp.vstack(ub_a, format="csr"), np.concatenate(ub_b)
    out = []
    for row, true in targets:
        c_ = row.toarray().ravel()
        bounds = []
        for sign in (1.0, -1.0):
            res = linprog(
                sign * c_, A_ub=a_ub, A_eq=a_eq, b_ub=b_ub, b_eq=b_eq, bounds=(0, None), method="highs"
            )
            if res.status == 3:  # unbounded above
                bounds.append(np.inf)
                continue
            assert res.status == 0, res.message
            bounds.append(sign * res.fun)
        out.append((true, bounds[0], bounds[1]))
    return out


def _assert_protected(found: list[tuple[float, float, float]], k: int) -> None:
    for true, lowest, highest in found:
        assert lowest <= true + 1e-6 <= highest + 2e-6
        assert highest >= k - 1e-6, f"a withheld {true:g} is provably at most {highest:g} (< {k})"
        assert highest - lowest >= 1 - 1e-6, f"a withheld {true:g} is pinned"


# ---------------------------------------------------------------- hand-made cases


def test_two_by_two_cells_and_days_with_their_totals_hide_the_small_one() -> None:
    # cell a: day 1 = 3, day 2 = 40; cell b: day 1 = 30, day 2 = 50; cell and day totals shown.
    atoms = pd.DataFrame({"h3": ["a", "a", "b", "b"], "date": [1, 2, 1, 2], "people": [3, 40, 30, 50]})
    tables = {"frames": ["h3", "date"], "cells": ["h3"], "days": ["date"], "total": []}
    out = privacy.publish_together(atoms, tables, K)
    assert out["frames"]["withheld"].tolist() == [True, True, True, True]  # a rectangle: 3 can move around it
    assert not out["cells"]["withheld"].any()
    assert not out["days"]["withheld"].any()
    found = _attack(atoms, [(tables[t], out[t]) for t in tables], K)
    assert len(found) == 1
    _assert_protected(found, K)


def test_a_range_total_does_not_give_away_its_only_day() -> None:
    # The leak found in issue 13: a cell with one day, its total shown, its day withheld elsewhere.
    atoms = pd.DataFrame({"h3": ["a", "b", "b", "c"], "date": [1, 1, 2, 2], "people": [43, 6, 30, 12]})
    tables = {"frames": ["h3", "date"], "cells": ["h3"], "days": ["date"], "total": []}
    out = privacy.publish_together(atoms, tables, K)
    _assert_protected(_attack(atoms, [(tables[t], out[t]) for t in tables], K), K)


def test_two_small_counts_beside_their_total_could_each_be_large() -> None:
    atoms = pd.DataFrame({"category": ["x", "y"], "people": [9, 9]})  # 18 = 9 + 9: either could be 17
    tables = {"categories": ["category"], "total": []}
    out = privacy.publish_together(atoms, tables, K)
    assert out["categories"]["withheld"].all()
    assert out["total"]["people"].tolist() == [18]
    _assert_protected(_attack(atoms, [(tables[t], out[t]) for t in tables], K), K)


def test_a_small_total_withholds_everything() -> None:
    atoms = pd.DataFrame({"category": ["x", "y"], "people": [4, 5]})
    out = privacy.publish_together(atoms, {"categories": ["category"], "total": []}, K)
    assert out["categories"]["withheld"].all()
    assert out["total"]["withheld"].all()
    assert out["total"]["people"].isna().all()


def test_nothing_is_withheld_when_every_count_reaches_k() -> None:
    atoms = pd.DataFrame({"h3": ["a", "b"], "people": [10, 11], "funds_yuan": [1.0, 2.0]})
    out = privacy.publish_together(atoms, {"cells": ["h3"], "total": []}, K, measures=("funds_yuan",))
    assert not out["cells"]["withheld"].any()
    assert out["cells"]["people"].tolist() == [10, 11]
    assert out["total"]["funds_yuan"].tolist() == [3.0]


@settings(max_examples=30, deadline=None)
@given(
    cells=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 3), st.integers(0, 1), st.integers(1, 40)),
        min_size=1,
        max_size=18,
        unique_by=lambda t: t[:3],
    ),
    k=st.integers(2, 12),
)
def test_random_linked_tables_never_let_a_reader_prove_a_small_count(cells: list, k: int) -> None:
    atoms = pd.DataFrame(cells, columns=["h3", "date", "region", "people"])
    tables = {
        "frames": ["h3", "date"],
        "cells": ["h3"],
        "days": ["date"],
        "regions": ["region"],
        "region_days": ["region", "date"],
        "total": [],
    }
    out = privacy.publish_together(atoms, tables, k)
    for t, keys in tables.items():
        truth = atoms.groupby(keys)["people"].sum() if keys else pd.Series([atoms["people"].sum()])
        small = ((truth >= 1) & (truth < k)).to_numpy()
        assert out[t]["withheld"].to_numpy()[small].all(), "every small count is withheld"
        assert (out[t]["people"].dropna() >= k).all()
    _assert_protected(_attack(atoms, [(tables[t], out[t]) for t in tables], k), k)


# ---------------------------------------------------------------- the campaign page on the demo


@pytest.fixture(scope="module")
def events(demo_tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    df = demo_tables["campaign"].copy()
    df["date"] = pd.to_datetime(df["date"].astype(str))
    df["year"] = df["year"].astype(int)
    return df


def _select(events: pd.DataFrame, f: c.Filters) -> pd.DataFrame:
    e = events[events["year"] == f.year]
    if f.date_from is not None:
        e = e[e["date"] >= pd.Timestamp(f.date_from)]
    if f.date_to is not None:
        e = e[e["date"] <= pd.Timestamp(f.date_to)]
    if f.categories:
        e = e[e["category"].isin(f.categories)]
    if f.region:
        e = e[(e["province_adcode"] == f.region) | (e["city_adcode"] == f.region) | (e["adcode"] == f.region)]
    return e


def _view_attack(data_dir: Path, events: pd.DataFrame, f: c.Filters, level: str, res: int) -> list:
    view = publication.campaign_view(data_dir, f, k=K, region_level=level, res=res)
    e = _select(events, f)
    if e.empty:
        assert view.total["people"] == 0
        assert view.hex_frames.empty
        return []
    col = {"province": "province_adcode", "city": "city_adcode", "county": "adcode"}[level]
    atoms = pd.DataFrame(
        {
            "h3": [h3.cell_to_parent(x, view.frame_res) for x in e["h3_9"]],
            "date": e["date"].to_numpy(),
            "adcode": e[col].to_numpy(),
            "category": e["category"].to_numpy(),
            "people": e["people"].to_numpy(),
        }
    )
    atoms = atoms.groupby(["h3", "date", "adcode", "category"], as_index=False)["people"].sum()
    atoms["cell"] = [h3.cell_to_parent(x, view.cell_res) for x in atoms["h3"]]
    cats = pd.DataFrame(
        [{"category": code, **v} for code, v in view.by_category.items()],
        columns=["category", "people", "withheld"],
    )
    total = pd.DataFrame([view.total])
    daily = view.daily.assign(date=pd.to_datetime(view.daily["date"]))
    daily = daily[daily["date"].isin(atoms["date"])]  # days without events are true zeros
    shown = [
        (["h3", "date"], view.hex_frames),
        (["cell"], view.cells.rename(columns={"h3": "cell"})),
        (["date"], daily),
        (["adcode"], view.regions),
        (["adcode", "date"], view.region_frames),
        (["category"], cats),
        ([], total),
    ]
    ratios = []
    if "completion" in view.regions.columns:
        ratios.append((["adcode"], view.regions, "completion", "target_people"))
    if view.completion is not None:
        ratios.append(
            ([], total.assign(completion=view.completion, target=view.target_people), "completion", "target")
        )
    found = _attack(atoms, shown, K, ratios=ratios)
    # Last year is another set of events, shown as its own days and total.
    if f.year - 1 in SPRING_FESTIVAL and view.last is not None:
        prev = f.shifted_to(f.year - 1)
        le = _select(events, prev).groupby("date", as_index=False)["people"].sum()
        last_days = view.daily[["day_offset", "people_last", "withheld_last"]].rename(
            columns={"people_last": "people", "withheld_last": "withheld"}
        )
        le["day_offset"] = c.day_offsets(le["date"], prev.year)
        found += _attack(le, [(["day_offset"], last_days), ([], pd.DataFrame([view.last]))], K)
    return found


def test_the_thin_selection_of_issue_13_is_protected(demo_data_dir: Path, events: pd.DataFrame) -> None:
    f = c.Filters(2025, dt.date(2025, 1, 10), dt.date(2025, 1, 16), ("hardship",), "630000")
    found = _view_attack(demo_data_dir, events, f, "city", 7)
    assert found, "the case has small withheld counts to protect"
    _assert_protected(found, K)


def test_many_thin_selections_of_the_demo_are_protected(demo_data_dir: Path, events: pd.DataFrame) -> None:
    rng = np.random.default_rng(13)
    provinces = sorted(events["province_adcode"].unique())
    cats = sorted(events["category"].unique())
    n_small = 0
    for _ in range(12):
        start = dt.date(2024, 12, 15) + dt.timedelta(days=int(rng.integers(0, 50)))
        f = c.Filters(
            2025, start, start + dt.timedelta(days=6), (str(rng.choice(cats)),), str(rng.choice(provinces))
        )
        found = _view_attack(demo_data_dir, events, f, "city", 7)
        _assert_protected(found, K)
        n_small += len(found)
    assert n_small >= 20, "the selections are thin enough to hold small counts"


def test_provinces_with_targets_and_completion_are_protected(
    demo_data_dir: Path, events: pd.DataFrame
) -> None:
    # All China by province over two days of one category: many provinces below k.
    f = c.Filters(2025, dt.date(2025, 1, 5), dt.date(2025, 1, 6), ("model",))
    view = publication.campaign_view(demo_data_dir, f, k=K, region_level="province", res=5)
    regions = view.regions
    assert regions["withheld"].any()
    assert regions.loc[regions["withheld"], "completion"].isna().all(), (
        "completion × target would give people"
    )
    shown = regions[~regions["withheld"]]
    np.testing.assert_allclose(
        shown["completion"].astype(float),
        shown["people"].astype(float) / shown["target_people"].astype(float),
    )
    _assert_protected(_view_attack(demo_data_dir, events, f, "province", 5), K)


def test_checkin_frames_and_cells_are_protected_together(demo_data_dir: Path) -> None:
    lo = dt.date(2025, 1, 28)
    kw = {"res": 8, "date_from": lo, "date_to": lo + dt.timedelta(days=2), "region": "630000"}  # 青海: thin
    view = publication.checkins_view(demo_data_dir, k=K, **kw)
    # Visits per cell and day (checked against a pandas join in test_campaign).
    truth = c.checkins_by(demo_data_dir, "cell", by_day=True, **kw)
    atoms = view.frames[["h3", "date"]].merge(truth[["h3", "date", "visits"]], on=["h3", "date"])
    assert len(atoms) == len(view.frames) == len(truth)
    found = _attack(atoms, [(["h3", "date"], view.frames), (["h3"], view.cells)], K, count_col="visits")
    assert found, "the case has small visit counts"
    _assert_protected(found, K)
    busy = view.busiest(5)
    assert not busy["withheld"].any()
    assert busy["visits_per_station_day"].is_monotonic_decreasing
