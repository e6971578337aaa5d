"""Vectorised cell checks shared by the table validators: numbers, dates, codes, yes/no, hours.

:class:`Issues` collects per-row problems as arrays (rejections and warnings apart).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from geo import hours
from geo.errors import GeoError
from geo.ingest.read import CONTROL
from geo.ingest.report import issue
from geo.schema import Enum

_TRUE_TEXT: Final = frozenset({"是", "有", "y", "yes", "true", "1", "t", "√", "✓", "24小时"})
_FALSE_TEXT: Final = frozenset({"否", "无", "n", "no", "false", "0", "f", "×", "✗"})


FULLWIDTH: Final = str.maketrans("０１２３４５６７８９．－＋，：", "0123456789.-+,:")


_Found = tuple[np.ndarray, str, str, dict[str, Any]]  # positions, field, message code, params at positions


class Issues:
    """Collects per-row problems as arrays (vectorised), rejections and warnings apart.

    Each problem is a message code of ``geo/strings/ingest.toml`` plus its parameters: a
    scalar, or an array / Series aligned to the rows (a value per row, e.g. the bad cell).
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.rejected = np.zeros(n, dtype=bool)
        self._rej: list[_Found] = []
        self._warn: list[_Found] = []
        self.notes: list[dict[str, Any]] = []
        self.unreadable = np.zeros(n, dtype=bool)  # rows that could not be read: report only that

    @staticmethod
    def _found(mask: np.ndarray, fld: str, code: str, params: Mapping[str, Any]) -> _Found | None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return None
        pos = np.flatnonzero(mask)
        at = {
            k: (np.asarray(v, dtype=object)[pos] if isinstance(v, np.ndarray | pd.Series) else v)
            for k, v in params.items()
        }
        return pos, fld, code, at

    def reject(self, mask: np.ndarray, fld: str, code: str, **params: Any) -> None:  # noqa: ANN401
        """Reject rows where ``mask`` with message ``code`` (see :func:`issue`)."""
        found = self._found(mask, fld, code, params)
        if found is not None:
            self.rejected[found[0]] = True
            self._rej.append(found)

    def warn(self, mask: np.ndarray, fld: str, code: str, **params: Any) -> None:  # noqa: ANN401
        """Warn about rows where ``mask`` (they stay accepted)."""
        found = self._found(mask, fld, code, params)
        if found is not None:
            self._warn.append(found)

    def note(self, fld: str, code: str, **params: Any) -> None:  # noqa: ANN401 - message values
        """Add a file-wide warning (no row)."""
        self.notes.append(issue(None, fld, code, params))

    @staticmethod
    def _frame(items: list[_Found], rows: np.ndarray, keep: np.ndarray | None) -> list[dict[str, Any]]:
        out: list[tuple[int, dict[str, Any]]] = []
        for pos, fld, code, params in items:
            for j, p in enumerate(pos.tolist()):
                if keep is None or keep[p]:
                    values = {k: (v[j] if isinstance(v, np.ndarray) else v) for k, v in params.items()}
                    out.append((p, issue(int(rows[p]), fld, code, values)))
        out.sort(key=lambda x: x[0])  # stable: a row's problems stay in check order
        return [d for _, d in out]

    def rejections(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """Return the rejections as :func:`issue` dicts in row order."""
        items = [f for f in self._rej if f[1] == "row"]
        others = [f for f in self._rej if f[1] != "row"]
        out = self._frame(items, rows, None) + self._frame(others, rows, ~self.unreadable)
        return sorted(out, key=lambda d: d["row"])  # stable: a row's problems stay in check order

    def warnings(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """Return warnings of accepted rows (and file-wide notes) in row order."""
        return self.notes + self._frame(self._warn, rows, ~self.rejected)


def clean_text(s: pd.Series) -> pd.Series:
    """Strip, drop control characters, fold full-width spaces; empty -> <NA>."""
    t = s.astype("string").str.replace(CONTROL, " ", regex=True).str.replace("\u3000", " ").str.strip()
    t = t.str.replace(r"\s{2,}", " ", regex=True)
    return t.mask(t == "", pd.NA)


def parse_numbers(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse text to float64; return ``(values, is_bad)`` (blank is NaN but not bad)."""
    t = s.str.translate(FULLWIDTH).str.replace(r"[°\s,]|元$", "", regex=True)
    t = t.mask(t == "", pd.NA)
    values = np.array(
        pd.to_numeric(t.astype(object), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    )
    bad = t.notna().to_numpy() & ~np.isfinite(values)
    values[~np.isfinite(values)] = np.nan
    return values, bad


def quoted(s: pd.Series, width: int = 40) -> np.ndarray:
    """Return each cell quoted and cut to ``width`` characters, for messages."""
    return ("'" + s.fillna("").str.slice(0, width) + "'").to_numpy(dtype=object)


def to_codes(
    s: pd.Series, enum: Enum, words: Sequence[tuple[str, str]], extra: Mapping[str, str] | None = None
) -> np.ndarray:
    """Map text to enum codes (code, zh/en label, synonyms, then key words); unknown -> None."""
    uniques = s.dropna().unique()
    table: dict[str, str | None] = {}
    for u in uniques:
        text = str(u)
        code = enum.from_text(text) or (extra or {}).get(text.lower())
        if code is None:
            code = next((c for w, c in words if w in text), None)
        table[text] = code
    return s.map(table).astype(object).where(s.notna(), None).to_numpy(dtype=object)


def parse_truthy(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse yes/no text (是/否, yes/no, √/×...); return ``(yes, neither yes nor no)``."""
    low = s.str.lower()
    yes = low.isin(_TRUE_TEXT).fillna(False).to_numpy(dtype=bool)
    no = low.isin(_FALSE_TEXT).fillna(False).to_numpy(dtype=bool)
    unknown = s.notna().to_numpy() & ~yes & ~no
    return yes, unknown


def parse_dates(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse dates written 2024-05-01, 2024/5/1, 2024.5.1, 2024年5月1日, 20240501."""
    t = s.str.translate(FULLWIDTH).str.replace(r"[年月/.]", "-", regex=True).str.replace("日", "")
    t = (
        t.str.replace(r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3", regex=True)
        .str.split(r"[ T]", regex=True)
        .str[0]
    )
    parsed = pd.to_datetime(t.astype(object), format="%Y-%m-%d", errors="coerce")
    ok = parsed.notna().to_numpy()
    values = np.full(len(s), None, dtype=object)
    if ok.any():
        values[ok] = np.asarray(parsed[ok].dt.date, dtype=object)
    bad = s.notna().to_numpy() & ~ok
    return values, bad


def content_ids(prefix: str, *parts: pd.Series) -> np.ndarray:
    """Deterministic ids from row content (same content, same id)."""

    def text(p: pd.Series) -> pd.Series:
        o = p.reset_index(drop=True).astype(object)
        return o.where(o.notna(), "").astype(str)

    key = text(parts[0])
    for p in parts[1:]:
        key = key + "|" + text(p)
    h = pd.util.hash_pandas_object(key.reset_index(drop=True), index=False).to_numpy(dtype=np.uint64)
    return np.array([f"{prefix}-{v:012x}"[: len(prefix) + 13] for v in h], dtype=object)


_HOURS_NOTE: Final = re.compile(r"[(（\[【]([^)）\]】]*)[)）\]】]")
_TIME: Final = r"\d{1,2}\s*[:：]\s*\d{2}"
_HOURS_RANGE: Final = re.compile(rf"({_TIME})\s*(?:-|–|—|~|～|〜|至|到)\s*({_TIME})")
# What may stand between the shifts of "8:00-12:00，14:00-18:00" / "上午8:00-12:00 下午14:00-18:00".
_SHIFT_FILLER: Final = re.compile(r"^(?:[\s,，;；、/|｜和及]|上午|下午|中午|晚上|早上|白天|夜间)*$")


def parse_hours_one(text: str) -> tuple[str, str, bool, str, str] | None:
    """Parse one hours text to ``(opens, closes, open_24h, note, shifts)`` or ``None``.

    ``note`` is a bracketed remark that was dropped (``"冬季"`` of ``08:00-20:00（冬季）``);
    ``shifts`` is set for split shifts (``8:00-12:00，14:00-18:00``), which are stored as
    the span from the first opening to the last closing.
    """
    notes = [n.strip() for n in _HOURS_NOTE.findall(text) if n.strip()]
    bare = _HOURS_NOTE.sub(" ", text).strip()
    note = "、".join(notes)[:40]
    try:
        return (*hours.parse_hours_text(bare), note, "")
    except GeoError:
        pass
    ranges = list(_HOURS_RANGE.finditer(bare))
    if len(ranges) < 2 or not _SHIFT_FILLER.match(_HOURS_RANGE.sub(" ", bare)):
        return None
    try:
        shifts = [hours.parse_hours_text(f"{m.group(1)}-{m.group(2)}") for m in ranges]
        opens, closes, all_day = hours.parse_hours_text(f"{shifts[0][0]}-{shifts[-1][1]}")
    except GeoError:
        return None
    if any(sh[2] for sh in shifts):
        opens, closes, all_day = "00:00", "24:00", True
    return opens, closes, all_day, note, "，".join(f"{o}-{c}" for o, c, _ in shifts)
