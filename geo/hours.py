"""Opening hours: parsing "HH:MM" text and asking which stations are open when.

A station row has ``opens`` and ``closes`` as ``"HH:MM"`` text (``closes`` may be
``"24:00"``) and an ``open_24h`` flag. Inside the library times of day are integer
**minutes after midnight** (``0``–``1439``; ``1440`` only as a closing time).

A station is open on the half-open interval ``[opens, closes)``: open at the minute it
opens, closed at the minute it closes. When ``closes < opens`` the window runs overnight
(``22:00``–``06:00`` is open from 22:00 until 06:00 the next morning). ``opens == closes``
and ``00:00``–``24:00`` are read as open all day, like ``open_24h``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from geo.errors import InputError

MINUTES_PER_DAY: Final = 1440
"""Minutes in a day; the largest allowed closing time (``"24:00"``)."""

EXTENDED_OPENS_BEFORE_MIN: Final = 7 * 60
"""A station opening before 07:00 counts as having extended hours."""
EXTENDED_CLOSES_AFTER_MIN: Final = 21 * 60
"""A station closing after 21:00 counts as having extended hours."""

_HHMM = re.compile(r"^\s*(\d{1,2})\s*[:：]\s*(\d{2})\s*$")
_ALL_DAY = re.compile(
    r"^\s*(全天|24\s*(小时|h|hrs?|hours?)|全天\s*24\s*(小时|h))\s*(营业|开放)?\s*$", re.IGNORECASE
)
_RANGE = re.compile(
    r"^\s*(\d{1,2}\s*[:：]\s*\d{2})\s*(?:-|–|—|~|～|〜|至|到)\s*(\d{1,2}\s*[:：]\s*\d{2})\s*$"
)


def _hhmm_to_min(text: str) -> int | None:
    """Minutes of one ``"H:MM"``/``"HH:MM"`` string (``"24:00"`` allowed), or ``None``."""
    m = _HHMM.match(text)
    if m is None:
        return None
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes != 0):
        return None
    return hours * 60 + minutes


def parse_hhmm(
    values: pd.Series | Sequence[str] | NDArray[np.object_], field: str = "time"
) -> NDArray[np.int16]:
    """Parse ``"HH:MM"`` strings to minutes after midnight.

    Parameters
    ----------
    values : pandas.Series or sequence of str or numpy.ndarray
        Times such as ``"08:00"``, ``"8:00"``, ``"24:00"`` or ``"08：00"`` (full-width colon).
    field : str, optional
        Name of the column, used in the error message.

    Returns
    -------
    numpy.ndarray
        ``int16`` minutes, ``0``–``1440``, shape ``(len(values),)``.

    Raises
    ------
    geo.errors.InputError
        On the first value that is missing or not a time; the message names ``field``,
        the row position and the value.
    """
    # Station tables repeat a handful of distinct times: parse each distinct value once.
    codes, uniques = pd.factorize(
        pd.Series(values, dtype=object).reset_index(drop=True), use_na_sentinel=True
    )
    parsed = [_hhmm_to_min(u) if isinstance(u, str) else None for u in uniques]
    # Slot -1 (the last one) holds missing values, so NA codes index it directly.
    minutes = np.array([-1 if m is None else m for m in parsed] + [-1], dtype=np.int16)[codes]
    bad = minutes < 0
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        shown = "an empty value" if codes[row] < 0 else repr(uniques[codes[row]])
        raise InputError(
            f"{field}: row {row} has {shown}, which is not a time of day; "
            "write it as HH:MM, e.g. 08:00 or 24:00"
        )
    return minutes


def parse_time_of_day(text: str) -> int:
    """Parse one time of day such as ``"23:30"`` (e.g. a CLI ``--at`` option).

    Parameters
    ----------
    text : str
        ``"H:MM"`` or ``"HH:MM"`` from ``00:00`` to ``23:59``; a full-width colon is accepted.

    Returns
    -------
    int
        Minutes after midnight, ``0``–``1439``.

    Raises
    ------
    geo.errors.InputError
        If ``text`` is not such a time.
    """
    minutes = _hhmm_to_min(str(text))
    if minutes is None or minutes >= MINUTES_PER_DAY:
        raise InputError(f"time {text!r} is not a time of day; write it as HH:MM between 00:00 and 23:59")
    return minutes


def _format_min(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_hours_text(text: str) -> tuple[str, str, bool]:
    """Parse free-text opening hours into ``(opens, closes, open_24h)``.

    Parameters
    ----------
    text : str
        Hours as written in source lists: ``"08:00-20:00"``, ``"8:00～20:00"``,
        ``"08:00至20:00"``, ``"22:00-06:00"`` (overnight), or an all-day form: ``"24小时"``,
        ``"全天"``, ``"24h"``, ``"00:00-24:00"``, ``"00:00-23:59"``.

    Returns
    -------
    tuple of (str, str, bool)
        ``opens`` and ``closes`` normalised to ``"HH:MM"``, and ``open_24h``. All-day forms
        give ``("00:00", "24:00", True)``.

    Raises
    ------
    geo.errors.InputError
        If ``text`` matches none of these forms.
    """
    t = str(text).strip()
    if _ALL_DAY.match(t):
        return "00:00", "24:00", True
    m = _RANGE.match(t)
    opens = _hhmm_to_min(m.group(1)) if m else None
    closes = _hhmm_to_min(m.group(2)) if m else None
    if opens is None or closes is None or opens == MINUTES_PER_DAY:
        raise InputError(
            f"opening hours {text!r} not understood; "
            "write them as 08:00-20:00 (22:00-06:00 for overnight) or 24小时"
        )
    # 00:00-23:59 is how many lists write "around the clock"; equal times mean the same.
    if (opens == 0 and closes >= MINUTES_PER_DAY - 1) or opens == closes:
        return "00:00", "24:00", True
    return _format_min(opens), _format_min(closes), False


def _times(
    opens_min: ArrayLike, closes_min: ArrayLike, open_24h: ArrayLike
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.bool_]]:
    """Return the times as ``int32`` (room for arithmetic) and the effective all-day flag."""
    o = np.asarray(opens_min, dtype=np.int32)
    c = np.asarray(closes_min, dtype=np.int32)
    all_day = np.asarray(open_24h, dtype=bool) | (o == c) | ((o == 0) & (c >= MINUTES_PER_DAY))
    return o, c, all_day


def _check_at(at_min: ArrayLike) -> NDArray[np.int32]:
    if type(at_min) is int and 0 <= at_min < MINUTES_PER_DAY:  # the common case, without numpy
        return np.int32(at_min)  # type: ignore[return-value]
    at = np.asarray(at_min)
    if at.dtype.kind not in "iu" or np.any((at < 0) | (at >= MINUTES_PER_DAY)):
        raise InputError(f"at_min={at_min!r}: give whole minutes after midnight between 0 and 1439")
    return at.astype(np.int32)


def _open(
    o: NDArray[np.int32], c: NDArray[np.int32], all_day: NDArray[np.bool_], at: NDArray[np.int32]
) -> NDArray[np.bool_]:
    """Open on ``[o, c)``, overnight when ``c < o``, or all day."""
    same_day = (o <= at) & (at < c)
    overnight = (c < o) & ((at >= o) | (at < c))
    return all_day | same_day | overnight


def open_at(
    opens_min: ArrayLike, closes_min: ArrayLike, open_24h: ArrayLike, at_min: ArrayLike
) -> NDArray[np.bool_]:
    """Return whether stations are open at a time of day.

    Parameters
    ----------
    opens_min, closes_min : array_like of int
        Opening and closing minutes after midnight (see :func:`parse_hhmm`), shape ``(n,)``.
    open_24h : array_like of bool
        All-day flag, shape ``(n,)``.
    at_min : int or array_like of int
        Minute of the day, ``0``–``1439``; a scalar or any shape that broadcasts with ``(n,)``.

    Returns
    -------
    numpy.ndarray
        ``bool``, broadcast shape: open on ``[opens, closes)``, overnight when
        ``closes < opens``.

    Raises
    ------
    geo.errors.InputError
        If ``at_min`` is not whole minutes in ``0``–``1439``.
    """
    o, c, all_day = _times(opens_min, closes_min, open_24h)
    at = _check_at(at_min)
    return _open(o, c, all_day, at)


def status(
    opens_min: ArrayLike, closes_min: ArrayLike, open_24h: ArrayLike, at_min: ArrayLike
) -> tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64]]:
    """Whether stations are open at ``at_min``, and minutes until they close or open.

    One pass for what a result card shows (the finder and the API call it per query).

    Parameters
    ----------
    opens_min, closes_min, open_24h, at_min
        As for :func:`open_at`.

    Returns
    -------
    is_open : numpy.ndarray
        ``bool``, as :func:`open_at`.
    until_close : numpy.ndarray
        ``float64`` minutes (``1``–``1440``) until stations open at ``at_min`` close;
        ``inf`` for stations open all day, ``nan`` for stations closed at ``at_min``.
    until_open : numpy.ndarray
        ``float64`` minutes (``1``–``1439``) until stations closed at ``at_min`` open;
        ``nan`` for stations open then (including all-day stations).
    """
    o, c, all_day = _times(opens_min, closes_min, open_24h)
    at = _check_at(at_min)
    is_open = _open(o, c, all_day, at)
    # (closes - at - 1) mod 1440 + 1 maps "closes later today" and "closes after midnight"
    # alike into 1..1440 minutes.
    until_close = ((c - at - 1) % MINUTES_PER_DAY + 1).astype(np.float64)
    until_close = np.where(all_day, np.inf, np.where(is_open, until_close, np.nan))
    until_open = np.where(is_open, np.nan, ((o - at) % MINUTES_PER_DAY).astype(np.float64))
    return is_open, until_close, until_open


def status_one(
    opens_min: int, closes_min: int, open_24h: bool, at_min: int
) -> tuple[bool, int | None, int | None]:
    """Return :func:`status` of one station, in plain Python.

    A result card's hot path: for a handful of stations numpy's per-call overhead costs
    more than the arithmetic.

    Returns
    -------
    (bool, int or None, int or None)
        ``(is_open, until_close, until_open)``: ``until_close`` is ``None`` when closed or
        open all day, ``until_open`` is ``None`` when open. Agrees with :func:`status`
        (tested on every combination).
    """
    o, c = int(opens_min), int(closes_min)
    at = int(_check_at(at_min))
    if bool(open_24h) or o == c or (o == 0 and c >= MINUTES_PER_DAY):
        return True, None, None
    if (o <= at < c) or (c < o and (at >= o or at < c)):
        return True, (c - at - 1) % MINUTES_PER_DAY + 1, None
    return False, None, (o - at) % MINUTES_PER_DAY


def minutes_until_close(
    opens_min: ArrayLike, closes_min: ArrayLike, open_24h: ArrayLike, at_min: ArrayLike
) -> NDArray[np.float64]:
    """Minutes from ``at_min`` until stations that are open then close (see :func:`status`).

    Returns
    -------
    numpy.ndarray
        ``float64`` minutes (``1``–``1440``), broadcast shape; ``inf`` for stations open
        all day, ``nan`` for stations closed at ``at_min``.
    """
    return status(opens_min, closes_min, open_24h, at_min)[1]


def minutes_until_open(
    opens_min: ArrayLike, closes_min: ArrayLike, open_24h: ArrayLike, at_min: ArrayLike
) -> NDArray[np.float64]:
    """Minutes from ``at_min`` until stations that are closed then open (see :func:`status`).

    Returns
    -------
    numpy.ndarray
        ``float64`` minutes (``1``–``1439``), broadcast shape; ``nan`` for stations open
        at ``at_min`` (including all-day stations).
    """
    return status(opens_min, closes_min, open_24h, at_min)[2]


def is_extended_hours(opens_min: ArrayLike, closes_min: ArrayLike, open_24h: ArrayLike) -> NDArray[np.bool_]:
    """Return whether stations keep extended (early, late or overnight) hours.

    Parameters
    ----------
    opens_min, closes_min, open_24h
        As for :func:`open_at`, shape ``(n,)``.

    Returns
    -------
    numpy.ndarray
        ``bool``, shape ``(n,)``: not open all day, and opening before 07:00, closing
        after 21:00 or open across midnight.
    """
    o, c, all_day = _times(opens_min, closes_min, open_24h)
    extended = (o < EXTENDED_OPENS_BEFORE_MIN) | (c > EXTENDED_CLOSES_AFTER_MIN) | (c < o)
    return ~all_day & extended
