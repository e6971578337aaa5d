"""Where each table came from (geo.provenance), over chains of manifests."""

from __future__ import annotations

from typing import Any

from geo import provenance
from geo.schema import TABLES


def _m(vid: str, base: str | None, **source: Any) -> dict[str, Any]:
    return {"dataset_version": vid, "base_version": base, "source": source}


CHAIN = [
    _m("v0001", None, kind="demo"),
    _m("v0002", "v0001", kind="import", table="stations", file="县.xlsx", mode="append"),
    _m("v0003", "v0002", kind="edit", table="stations", action="close"),
    _m("v0004", "v0003", kind="import", table="workplaces", file="wp.csv", mode="replace"),
    _m("v0005", "v0004", kind="import", table="stations", file="省.csv", mode="replace"),
]


def test_demo_only_is_pure_demo_in_every_table() -> None:
    got = provenance.table_sources(CHAIN, "v0001")
    assert set(got) == set(TABLES)
    assert all(s.pure_demo for s in got.values())


def test_append_keeps_demo_rows_and_edits_count() -> None:
    got = provenance.table_sources(CHAIN, "v0004")
    assert got["stations"].demo
    assert got["stations"].files == ["县.xlsx"]
    assert got["stations"].edits == 1
    assert not got["stations"].pure_demo
    assert not got["workplaces"].demo
    assert got["workplaces"].files == ["wp.csv"]
    assert got["campaign"].pure_demo
    assert got["targets"].pure_demo


def test_replace_ends_the_history_of_that_table() -> None:
    got = provenance.table_sources(CHAIN, "v0005")
    assert not got["stations"].demo
    assert got["stations"].files == ["省.csv"]
    assert got["stations"].edits == 0


def test_rolled_back_version_is_described_by_its_own_chain() -> None:
    assert provenance.table_sources(CHAIN, "v0002")["stations"].edits == 0
    # An unknown version or a broken chain claims nothing.
    assert not any(s.demo for s in provenance.table_sources(CHAIN, "v0099").values())
    looped = [
        _m("v0001", "v0002", kind="edit", table="stations"),
        _m("v0002", "v0001", kind="edit", table="stations"),
    ]
    assert provenance.table_sources(looped, "v0002")["stations"].edits == 2
