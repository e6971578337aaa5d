"""k-anonymity for tables published together: primary and complementary cell suppression.

A page, an export or a CLI answer shows several tables of one selection side by side
(cells × days, cells over the range, days, regions, categories, the grand total). Each is
a grouping of the same *atoms* (the finest groups of events), so their figures are tied
by sums. Suppressing each table on its own is not enough: a reader who writes all the
shown figures into one linear program can recover small withheld counts. This module
decides, for all tables of one publication at once, which rows to withhold.

Rule
----
* **Primary suppression**: a row whose count is at least 1 and below ``k`` is withheld
  (count and every measure null, ``withheld`` true). Rows with a count of 0 are published.
* **Complementary suppression, relation rules** (every publication): for every pair of
  nested tables (a parent row and the rows it sums: a cell over the range and its days,
  a day and its cells, a region and its days, the total and everything), a published
  parent must never hold exactly one withheld child, and when a withheld child is small
  its withheld mass minus 1 for each other withheld child must reach ``k`` — the largest
  value that one relation lets a reader give the small one. Otherwise the smallest
  published child is withheld too (or, with none left, the parent); repeated until no
  relation is short.
* **Linear-program check** (publications with up to :data:`MAX_CHECKED` small rows — the
  thin selections, where recovery is likely): relations are not read one at a time by a
  careful reader. For each small withheld row, a linear program finds the largest value
  its atoms can take given every published figure, counts ≥ 0 and every shown row ≥ 1.
  Below ``k``, a child of the published rows that limit it (non-zero duals) is withheld
  and the check runs again; when nothing is left to withhold, everything is.
  Larger publications (all of China by day at the demo's scale) rely on the relation
  rules alone: their small rows sit among many large ones.
* A reader is not told *why* a value is withheld: every withheld figure carries the same
  label.

Not covered: differencing two *different* selections (e.g. two date ranges one day
apart), and measures other than the count (events, funds are withheld with the count).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

MAX_ROUNDS: Final = 40
"""Most rounds of complementary suppression before everything is withheld."""
MAX_CHECKED: Final = 400
"""Most primary rows checked by linear programs; beyond, the relation rules only."""
_TOL: Final = 1e-6


@dataclass(frozen=True)
class _Layout:
    """Rows of every table, numbered one after the other."""

    names: list[str]
    offset: dict[str, int]
    atom_row: dict[str, NDArray[np.int64]]  # table -> row id (global) of each atom
    value: NDArray[np.float64]  # count of each row
    table_of: NDArray[np.int64]  # table index of each row


def _layout(atoms: pd.DataFrame, tables: Mapping[str, Sequence[str]], count: NDArray[np.float64]) -> _Layout:
    names = list(tables)
    codes: dict[str, tuple[NDArray[np.int64], int]] = {}
    for col in dict.fromkeys(c for keys in tables.values() for c in keys):
        code, uniques = pd.factorize(atoms[col], sort=True, use_na_sentinel=False)
        codes[col] = (code.astype(np.int64), max(len(uniques), 1))
    offset: dict[str, int] = {}
    atom_row: dict[str, NDArray[np.int64]] = {}
    values: list[NDArray[np.float64]] = []
    table_of: list[NDArray[np.int64]] = []
    n = 0
    for i, name in enumerate(names):
        gid = np.zeros(len(atoms), dtype=np.int64)
        for col in tables[name]:  # mixed radix, renumbered after each column: sorted as by a groupby
            code, size = codes[col]
            gid = np.unique(gid * size + code, return_inverse=True)[1].astype(np.int64).ravel()
        n_rows = int(gid.max()) + 1 if len(gid) else (0 if tables[name] else 1)
        offset[name] = n
        atom_row[name] = gid + n
        values.append(np.bincount(gid, count, n_rows).astype(np.float64))
        table_of.append(np.full(n_rows, i, dtype=np.int64))
        n += n_rows
    return _Layout(names, offset, atom_row, np.concatenate(values), np.concatenate(table_of))


def _relations(
    tables: Mapping[str, Sequence[str]], lay: _Layout
) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Pairs (child row, parent row) of every pair of nested tables (parent keys ⊂ child keys)."""
    out = []
    n = len(lay.value)
    for t in lay.names:
        for u in lay.names:
            if t != u and set(tables[u]) < set(tables[t]):
                pairs = np.unique(lay.atom_row[t] * n + lay.atom_row[u])
                out.append((pairs // n, pairs % n))
    return out


def _nested_pass(
    lay: _Layout,
    relations: list[tuple[NDArray[np.int64], NDArray[np.int64]]],
    withheld: NDArray[np.bool_],
    primary: NDArray[np.bool_],
    k: int,
) -> bool:
    """Withhold rows until every published parent holds enough withheld mass; True if any was added."""
    added = False
    n = len(lay.value)
    for _ in range(n + 1):
        changed = False
        for child, parent in relations:
            w = withheld[child]
            mass = np.bincount(parent, np.where(w, lay.value[child], 0.0), n)
            n_hidden = np.bincount(parent, w, n)
            small = np.bincount(parent, w & primary[child], n) > 0
            # The parent minus its published children is the withheld mass; with the other
            # withheld children at 1 each, a small one can be as large as mass - (n - 1): that
            # must reach k. And one withheld child alone is given away.
            short = ~withheld & ((small & (mass - (n_hidden - 1) < k - _TOL)) | (n_hidden == 1))
            if not short.any():
                continue
            changed = True
            _add_smallest_child(lay, child, parent, short, withheld)
        if not changed:
            break
        added = True
    return added


def _add_smallest_child(
    lay: _Layout,
    child: NDArray[np.int64],
    parent: NDArray[np.int64],
    short: NDArray[np.bool_],
    withheld: NDArray[np.bool_],
) -> None:
    """For each ``short`` parent, withhold its smallest published child, or itself when it has none."""
    cand = short[parent] & ~withheld[child] & (lay.value[child] > 0)
    idx = np.flatnonzero(cand)
    if len(idx):
        order = np.lexsort((child[idx], lay.value[child[idx]], parent[idx]))
        p_sorted = parent[idx][order]
        first = np.r_[True, p_sorted[1:] != p_sorted[:-1]]
        withheld[child[idx][order][first]] = True
    served = np.zeros(len(withheld), dtype=bool)
    served[parent[idx]] = True
    withheld[short & ~served] = True


def _protection_shortfall(
    lay: _Layout,
    atom_count: NDArray[np.float64],
    withheld: NDArray[np.bool_],
    primary: NDArray[np.bool_],
    k: int,
    block: NDArray[np.int64] | None = None,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Find the primary rows a reader can prove to be below ``k``, by linear programs.

    For each primary row: the largest value of its atoms' sum over atom values ``y ≥ 0``
    that match every published row and give every withheld row at least 1. Atoms in
    published rows only are held at their true values, and so is the part of a published
    row that falls in each ``block`` of atoms (blocks joined by a withheld row are one):
    both only make the check stricter, and blocks make one large program many small ones.

    Returns
    -------
    (numpy.ndarray of bool, numpy.ndarray of bool), shape (n_rows,) each
        The primary rows left short (largest value below ``k``), and the published rows
        that limit them (non-zero dual value): withholding one of their children, or
        them, frees mass.
    """
    n_rows = len(lay.value)
    short = np.zeros(n_rows, dtype=bool)
    binding = np.zeros(n_rows, dtype=bool)
    rows_of = np.stack([lay.atom_row[t] for t in lay.names], axis=1)  # (n_atoms, n_tables)
    free = withheld[rows_of].any(axis=1)
    if not primary.any() or not free.any():
        return short, binding
    fr, count = rows_of[free], atom_count[free]
    blk = (
        np.zeros(len(fr), dtype=np.int64) if block is None else pd.factorize(block[free])[0].astype(np.int64)
    )
    n_blk = int(blk.max()) + 1
    # Blocks joined through a withheld row are solved together (a withheld row is never split).
    hid = withheld[fr]
    edges_b = np.repeat(blk, fr.shape[1])[hid.ravel()]
    edges_r = fr.ravel()[hid.ravel()] + n_blk
    graph = sp.coo_matrix((np.ones(len(edges_b)), (edges_b, edges_r)), shape=(n_blk + n_rows, n_blk + n_rows))
    group = connected_components(graph, directed=False)[1][blk]
    for g in np.unique(group):
        sel = np.flatnonzero(group == g)
        rows_g = fr[sel]
        n_var = len(sel)
        var_idx = np.repeat(np.arange(n_var), rows_g.shape[1])
        m = sp.csr_matrix((np.ones(rows_g.size), (rows_g.ravel(), var_idx)), shape=(n_rows, n_var))
        part = np.bincount(rows_g.ravel(), np.repeat(count[sel], rows_g.shape[1]), n_rows)
        touched = np.zeros(n_rows, dtype=bool)
        touched[rows_g.ravel()] = True
        eq_rows = np.flatnonzero(touched & ~withheld)
        ub_rows = np.flatnonzero(touched & withheld)
        a_eq, b_eq = m[eq_rows], part[eq_rows]
        a_ub, b_ub = -m[ub_rows], -np.ones(len(ub_rows))
        for p in ub_rows[primary[ub_rows]]:
            res = linprog(
                -m[p].toarray().ravel(),
                A_ub=a_ub,
                b_ub=b_ub,
                A_eq=a_eq,
                b_eq=b_eq,
                bounds=(0, None),
                method="highs",
            )
            if res.status == 3:  # unbounded: nothing limits it
                continue
            if res.status != 0 or -res.fun < k - _TOL:
                short[p] = True
                binding[eq_rows] |= True if res.status != 0 else np.abs(res.eqlin.marginals) > _TOL
    return short, binding


def withheld_rows(
    atoms: pd.DataFrame,
    tables: Mapping[str, Sequence[str]],
    k: int,
    *,
    count_col: str = "people",
    block: str | None = None,
    max_rounds: int = MAX_ROUNDS,
    max_checked: int = MAX_CHECKED,
) -> dict[str, tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.bool_]]]:
    """Decide which rows of tables published together are withheld.

    Parameters
    ----------
    atoms : pandas.DataFrame
        The finest groups: every key column of every table, and ``count_col`` (≥ 0).
    tables : mapping of str to sequence of str
        Name → key columns of each published table (``[]`` is the grand total).
    k : int
        Threshold: counts of 1..k-1 are withheld (``k <= 1`` withholds nothing).
    count_col : str
        The count the threshold applies to.
    block : str, optional
        Column of ``atoms`` cutting the check into blocks (e.g. the region): each block's
        part of a published row is held at its true value. Safe either way; blocks make
        large publications fast and may withhold a little more.
    max_rounds : int
        Rounds of the linear-program check before withholding everything.
    max_checked : int
        Most primary rows checked one by one by a linear program; publications with more
        (all of China by day) get the relation rules only.

    Returns
    -------
    dict
        Table name → ``(row id of each atom in that table, withheld per row, primary per row)``.
    """
    count = atoms[count_col].to_numpy(dtype=np.float64)
    lay = _layout(atoms, tables, count)
    k = int(k)
    primary = (lay.value >= 1) & (lay.value < k) if k > 1 else np.zeros(len(lay.value), dtype=bool)
    withheld = primary.copy()
    if primary.any():
        relations = _relations(tables, lay)
        finest_first = sorted(relations, key=lambda r: -len(np.unique(r[0])))
        blocks = None if block is None else pd.factorize(atoms[block])[0].astype(np.int64)
        for _ in range(max_rounds):
            _nested_pass(lay, relations, withheld, primary, k)
            if int(primary.sum()) > max_checked:
                break  # too many for the linear programs in a page's time: the relation rules only
            short, binding = _protection_shortfall(lay, count, withheld, primary, k, blocks)
            if not short.any():
                break
            before = int(withheld.sum())
            has_child = np.zeros(len(withheld), dtype=bool)
            for child, parent in finest_first:  # one child per limiting row, from the finest table
                here = np.zeros(len(withheld), dtype=bool)
                here[parent[~withheld[child] & (lay.value[child] > 0)]] = True
                _add_smallest_child(lay, child, parent, binding & here & ~has_child, withheld)
                has_child |= here
            if int(withheld.sum()) == before:  # no child left to withhold: the limiting rows themselves
                withheld |= binding & ~has_child
            if int(withheld.sum()) == before:
                withheld[:] = lay.value > 0
                break
        else:
            withheld[:] = lay.value > 0
    out = {}
    for name in lay.names:
        lo = lay.offset[name]
        hi = lo + int((lay.table_of == lay.names.index(name)).sum())
        out[name] = (lay.atom_row[name] - lo, withheld[lo:hi], primary[lo:hi])
    return out


def publish_together(
    atoms: pd.DataFrame,
    tables: Mapping[str, Sequence[str]],
    k: int,
    *,
    count_col: str = "people",
    measures: Sequence[str] = ("people",),
    block: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Sum ``atoms`` into every table and withhold what must be withheld, consistently across them.

    Parameters
    ----------
    atoms : pandas.DataFrame
        The finest groups: every key column of every table, ``count_col`` and ``measures``.
    tables : mapping of str to sequence of str
        Name → key columns; every table is published together with every other.
    k : int
        k-anonymity threshold (``Settings.k_anonymity``).
    count_col : str
        The count the threshold applies to (people, visits).
    measures : sequence of str
        Columns summed and withheld with the count (e.g. events, funds).
    block : str, optional
        See :func:`withheld_rows`.

    Returns
    -------
    dict of str to pandas.DataFrame
        Per table: its key columns (sorted), the measures (nullable ``Int64``/``Float64``,
        missing where withheld) and a boolean ``withheld`` column. A table without keys
        has exactly one row (the total; 0 when there are no atoms).
    """
    measures = list(dict.fromkeys([count_col, *measures]))
    decided = withheld_rows(atoms, tables, k, count_col=count_col, block=block)
    out: dict[str, pd.DataFrame] = {}
    for name, keys in tables.items():
        gid, hidden, _ = decided[name]
        n = len(hidden)
        frame = (
            atoms[list(keys)].iloc[np.unique(gid, return_index=True)[1]].reset_index(drop=True)
            if keys
            else pd.DataFrame(index=range(n))
        )
        for m in measures:
            col = atoms[m]
            summed = np.bincount(gid, col.to_numpy(dtype=np.float64), n)
            if pd.api.types.is_integer_dtype(col.dtype):
                frame[m] = pd.array(np.rint(summed).astype(np.int64), dtype="Int64")
            else:
                frame[m] = pd.array(summed, dtype="Float64")
            frame[m] = frame[m].mask(hidden)
        frame["withheld"] = hidden
        out[name] = frame
    return out


def publish_sharing_total(
    parts: Sequence[tuple[pd.DataFrame, Mapping[str, Sequence[str]]]],
    k: int,
    *,
    count_col: str = "people",
    measures: Sequence[str] = ("people",),
    block: str | None = None,
) -> list[dict[str, pd.DataFrame]]:
    """Publish groups of tables that share only their grand total (table ``"total"``, keys ``[]``).

    Tables that cut across each other without a finer grouping a reader could know
    (e.g. categories beside cells × days: which category each cell's people belong to is
    not shown) are linked only through the grand total. With the total published, each
    part is protected on its own (:func:`publish_together`); a part that must withhold its
    total would let the other parts give it back, so then every part is withheld whole.

    Returns
    -------
    list of dict
        One :func:`publish_together` result per part.
    """
    outs = [
        publish_together(a, t, k, count_col=count_col, measures=measures, block=block if block in a else None)
        for a, t in parts
    ]
    if any(bool(o["total"]["withheld"].iloc[0]) for o in outs if "total" in o):
        outs = [withhold_all(o) for o in outs]
    return outs


def withhold_all(published: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Return ``published`` with every row of every table withheld (measures null)."""
    out = {}
    for name, frame in published.items():
        f = frame.copy()
        for col in f.columns:  # the measures are the nullable columns; keys are plain
            if isinstance(f[col].dtype, pd.Int64Dtype | pd.Float64Dtype):
                f[col] = f[col].mask(np.ones(len(f), dtype=bool))
        f["withheld"] = True
        out[name] = f
    return out
