"""UI strings and number formatting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from geo import i18n

ROOT = Path(__file__).parents[1]


def test_every_string_has_chinese_and_english() -> None:
    for key, entry in i18n.strings().items():
        assert entry.get("zh"), key
        assert entry.get("en"), key
        # the same placeholders in both languages
        assert set(re.findall(r"{(\w+)}", entry["zh"])) == set(re.findall(r"{(\w+)}", entry["en"])), key


def test_every_key_used_in_the_app_exists() -> None:
    used: set[str] = set()
    pattern = re.compile(r"""\btr?\(\s*["']([a-z_]+\.[a-z0-9_]+)["']""")
    for path in [ROOT / "app.py", *ROOT.glob("views/*.py")]:
        used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    missing = sorted(used - set(i18n.strings()))
    assert not missing, f"keys used but not defined: {missing}"


def test_unknown_key_fails_loudly() -> None:
    with pytest.raises(KeyError):
        i18n.t("nope.nothing")


@pytest.mark.parametrize(
    ("n", "zh", "en"),
    [
        (10_024_300, "1002.43万", "10,024,300"),
        (186_100, "18.61万", "186,100"),
        (193_000_000, "1.93亿", "193,000,000"),
        (9_999, "9999", "9,999"),
        (0, "0", "0"),
    ],
)
def test_counts_use_wan_and_yi_in_chinese_and_separators_in_english(n: int, zh: str, en: str) -> None:
    assert i18n.format_count(n, "zh") == zh
    assert i18n.format_count(n, "en") == en


def test_money_distance_share() -> None:
    assert i18n.format_yuan(320_000_000, "zh") == "3.2亿元"
    assert i18n.format_yuan(451_000, "zh") == "45.1万元"
    assert i18n.format_yuan(320_000_000, "en") == "¥320.0 M"
    assert i18n.format_distance(850, "zh") == "850 米"
    assert i18n.format_distance(1234, "en") == "1.2 km"
    assert i18n.format_share(0.8766) == "87.7%"
    assert i18n.format_count(None) == "–"


def test_every_import_message_code_exists() -> None:
    # Import problems are recorded as message codes (geo/strings/ingest.toml): each code the
    # importer uses must exist, or a user would meet a KeyError instead of a reason.
    import ast

    files = sorted((ROOT / "geo" / "ingest").glob("*.py"))
    assert len(files) > 5  # the ingest package
    trees = [ast.parse(f.read_text(encoding="utf-8")) for f in files]
    position = {"reject": 2, "warn": 2, "note": 1, "issue": 2}
    codes = set()
    for node in (n for tree in trees for n in ast.walk(tree)):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            i = position.get(name)
            if i is not None and len(node.args) > i and isinstance(node.args[i], ast.Constant):
                codes.add(node.args[i].value)
    assert len(codes) > 40
    missing = sorted(c for c in codes if f"ingest.{c}" not in i18n.strings())
    assert not missing, missing
