"""Opening hours (geo.hours)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.errors import InputError
from geo.hours import (
    MINUTES_PER_DAY,
    is_extended_hours,
    minutes_until_close,
    minutes_until_open,
    open_at,
    parse_hhmm,
    parse_hours_text,
    parse_time_of_day,
    status,
    status_one,
)

H = 60  # minutes per hour, for readable hand-worked cases


def brute_force_open_minutes(opens: int, closes: int, open_24h: bool) -> set[int]:
    """Independent reference: walk the clock minute by minute from ``opens`` to ``closes``."""
    if open_24h or opens == closes or (opens == 0 and closes == 1440):
        return set(range(1440))
    minutes = set()
    t = opens
    while t % 1440 != closes % 1440:  # 24:00 is the next midnight
        minutes.add(t % 1440)
        t += 1
    return minutes


# -- parse_hhmm ------------------------------------------------------------------------


def test_parse_hhmm_accepts_the_usual_spellings() -> None:
    values = pd.Series(["08:00", "8:00", "24:00", "08：30", " 7:05 ", "00:00", "23:59"], dtype="string")
    assert parse_hhmm(values).tolist() == [480, 480, 1440, 510, 425, 0, 1439]
    assert parse_hhmm(values).dtype == np.int16


def test_parse_hhmm_takes_lists_and_arrays_and_ignores_the_index() -> None:
    assert parse_hhmm(["22:00", "06:00"]).tolist() == [1320, 360]
    assert parse_hhmm(np.array(["22:00"], dtype=object)).tolist() == [1320]
    assert parse_hhmm(pd.Series(["09:00", "10:00"], index=[7, 3])).tolist() == [540, 600]


def test_parse_hhmm_of_nothing_is_empty() -> None:
    assert parse_hhmm([]).shape == (0,)


@pytest.mark.parametrize("bad", ["25:00", "24:01", "08:60", "8", "08.00", "", "8:0", "noon", "-1:00"])
def test_parse_hhmm_names_the_bad_value_and_row(bad: str) -> None:
    with pytest.raises(InputError, match=rf"opens: row 1 has {bad!r}"):
        parse_hhmm(["08:00", bad, "09:00"], field="opens")


def test_parse_hhmm_rejects_missing_values() -> None:
    with pytest.raises(InputError, match="closes: row 0 has an empty value"):
        parse_hhmm(pd.Series([pd.NA, "08:00"], dtype="string"), field="closes")
    with pytest.raises(InputError, match="row 1"):
        parse_hhmm(["08:00", None])


# -- parse_time_of_day / parse_hours_text ----------------------------------------------


@pytest.mark.parametrize(("text", "minutes"), [("23:30", 1410), ("0:00", 0), ("7:45", 465), ("12：00", 720)])
def test_parse_time_of_day(text: str, minutes: int) -> None:
    assert parse_time_of_day(text) == minutes


@pytest.mark.parametrize("bad", ["24:00", "23:60", "11pm", "", "23"])
def test_parse_time_of_day_rejects_non_times(bad: str) -> None:
    with pytest.raises(InputError, match="HH:MM"):
        parse_time_of_day(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08:00-20:00", ("08:00", "20:00", False)),
        ("8:00～20:00", ("08:00", "20:00", False)),
        ("08:00至20:00", ("08:00", "20:00", False)),
        ("08:00 ~ 20:00", ("08:00", "20:00", False)),
        ("8：30—17：30", ("08:30", "17:30", False)),
        ("22:00-06:00", ("22:00", "06:00", False)),
        ("07:00-24:00", ("07:00", "24:00", False)),
        ("24小时", ("00:00", "24:00", True)),
        ("24 小时营业", ("00:00", "24:00", True)),
        ("全天", ("00:00", "24:00", True)),
        ("24h", ("00:00", "24:00", True)),
        ("24H", ("00:00", "24:00", True)),
        ("00:00-24:00", ("00:00", "24:00", True)),
        ("00:00-23:59", ("00:00", "24:00", True)),
    ],
)
def test_parse_hours_text(text: str, expected: tuple[str, str, bool]) -> None:
    assert parse_hours_text(text) == expected


@pytest.mark.parametrize("bad", ["", "早八晚八", "08:00", "08:00-25:00", "24:00-08:00", "8-20", "周一至周五"])
def test_parse_hours_text_rejects_other_forms(bad: str) -> None:
    with pytest.raises(InputError, match="not understood"):
        parse_hours_text(bad)


# -- open_at -----------------------------------------------------------------------------

#                   opens    closes   24h
DAY = (8 * H, 18 * H, False)
NIGHT = (22 * H, 6 * H, False)
TO_MIDNIGHT = (7 * H, 24 * H, False)
ALL_DAY = (0, 24 * H, True)


@pytest.mark.parametrize(
    ("hours", "at_min", "expected"),
    [
        (DAY, 8 * H, True),  # open at the opening minute
        (DAY, 8 * H - 1, False),
        (DAY, 18 * H - 1, True),
        (DAY, 18 * H, False),  # closed at the closing minute: [opens, closes)
        (DAY, 2 * H, False),
        (NIGHT, 2 * H, True),  # overnight: still open after midnight
        (NIGHT, 22 * H, True),
        (NIGHT, 23 * H + 59, True),
        (NIGHT, 0, True),
        (NIGHT, 6 * H - 1, True),
        (NIGHT, 6 * H, False),
        (NIGHT, 12 * H, False),
        (NIGHT, 22 * H - 1, False),
        (TO_MIDNIGHT, 23 * H + 59, True),
        (TO_MIDNIGHT, 0, False),
        (ALL_DAY, 0, True),
        (ALL_DAY, 3 * H, True),
        (ALL_DAY, 1439, True),
        ((9 * H, 9 * H, False), 3 * H, True),  # equal times read as all day
    ],
)
def test_open_at_hand_worked(hours: tuple[int, int, bool], at_min: int, expected: bool) -> None:
    assert bool(open_at(*hours, at_min)) is expected


def test_open_at_is_vectorised_over_stations_and_times() -> None:
    opens, closes, all_day = (np.array(v) for v in zip(DAY, NIGHT, ALL_DAY, strict=True))
    assert open_at(opens, closes, all_day, 2 * H).tolist() == [False, True, True]
    grid = open_at(opens, closes, all_day, np.array([[2 * H], [12 * H]]))
    assert grid.tolist() == [[False, True, True], [True, False, True]]


@pytest.mark.parametrize("bad", [-1, 1440, 2.5])
def test_open_at_rejects_times_outside_the_day(bad: float) -> None:
    with pytest.raises(InputError, match="at_min"):
        open_at(*DAY, bad)


hhmm = st.integers(0, 1440)


@given(hhmm, hhmm, st.booleans())
def test_open_at_agrees_with_minute_by_minute_walk(opens: int, closes: int, open_24h: bool) -> None:
    opens = min(opens, 1439)  # a station cannot open at 24:00
    expected = np.zeros(1440, dtype=bool)
    expected[sorted(brute_force_open_minutes(opens, closes, open_24h))] = True
    got = open_at(np.full(1440, opens), np.full(1440, closes), np.full(1440, open_24h), np.arange(1440))
    assert np.array_equal(got, expected)


@given(hhmm, hhmm, st.booleans(), st.integers(0, 1439))
def test_until_close_and_until_open_agree_with_a_walk(
    opens: int, closes: int, open_24h: bool, at: int
) -> None:
    opens = min(opens, 1439)
    open_minutes = brute_force_open_minutes(opens, closes, open_24h)
    until_close = float(minutes_until_close(opens, closes, open_24h, at))
    until_open = float(minutes_until_open(opens, closes, open_24h, at))
    if len(open_minutes) == 1440:
        assert until_close == np.inf
        assert np.isnan(until_open)
    elif at in open_minutes:
        steps = next(s for s in range(1, 1441) if (at + s) % 1440 not in open_minutes)
        assert until_close == steps
        assert np.isnan(until_open)
    else:
        steps = next(s for s in range(1, 1441) if (at + s) % 1440 in open_minutes)
        assert until_open == steps
        assert np.isnan(until_close)


def test_until_close_and_open_hand_worked() -> None:
    assert float(minutes_until_close(*NIGHT, 23 * H)) == 7 * H  # 23:00 → 06:00
    assert float(minutes_until_close(*DAY, 17 * H + 30)) == 30
    assert float(minutes_until_close(*TO_MIDNIGHT, 23 * H)) == H
    assert float(minutes_until_open(*DAY, 19 * H)) == 13 * H  # 19:00 → 08:00 tomorrow
    assert float(minutes_until_open(*NIGHT, 21 * H)) == H


# -- is_extended_hours -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("opens", "closes", "open_24h", "expected"),
    [
        ("08:00", "18:00", False, False),
        ("07:00", "21:00", False, False),  # boundaries themselves are regular hours
        ("06:59", "18:00", False, True),  # opens before 07:00
        ("08:00", "21:01", False, True),  # closes after 21:00
        ("07:00", "24:00", False, True),
        ("22:00", "06:00", False, True),  # crosses midnight
        ("12:00", "01:00", False, True),
        ("00:00", "24:00", True, False),  # all day is not "extended"
        ("00:00", "24:00", False, False),
        ("05:00", "22:00", True, False),
    ],
)
def test_is_extended_hours(opens: str, closes: str, open_24h: bool, expected: bool) -> None:
    o, c = parse_hhmm([opens, closes])
    assert bool(is_extended_hours(o, c, open_24h)) is expected


def test_is_extended_hours_on_arrays() -> None:
    opens = parse_hhmm(["08:00", "22:00", "00:00"])
    closes = parse_hhmm(["18:00", "06:00", "24:00"])
    assert is_extended_hours(opens, closes, np.array([False, False, True])).tolist() == [False, True, False]


def test_extended_hours_definition_agrees_with_the_demo_data(demo_tables: dict[str, pd.DataFrame]) -> None:
    stations = demo_tables["stations"]
    extended = is_extended_hours(
        parse_hhmm(stations["opens"], field="opens"),
        parse_hhmm(stations["closes"], field="closes"),
        stations["open_24h"].to_numpy(),
    )
    assert np.array_equal(extended, stations["extended_hours"].to_numpy())


def test_status_one_agrees_with_vectorised_status_everywhere() -> None:
    # Every opening/closing pair on a 30-minute grid (plus 24:00 and the 24 h flag) at
    # every 10th minute of the day.
    grid = [*range(0, MINUTES_PER_DAY, 30), MINUTES_PER_DAY]
    pairs = [(o, c, f) for o in grid[:-1] for c in grid for f in (False, True)]
    o = np.array([p[0] for p in pairs])
    c = np.array([p[1] for p in pairs])
    f = np.array([p[2] for p in pairs])
    for at in range(0, MINUTES_PER_DAY, 10):
        is_open, until_close, until_open = status(o, c, f, at)
        for j, (oj, cj, fj) in enumerate(pairs):
            got = status_one(oj, cj, fj, at)
            want_close = None if not np.isfinite(until_close[j]) else int(until_close[j])
            want_open = None if np.isnan(until_open[j]) else int(until_open[j])
            assert got == (bool(is_open[j]), want_close, want_open), (oj, cj, fj, at)
