"""Upload bombs: what a file declares is checked before it is read, and reading has a memory cap."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from geo import ingest, store

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def xlsx_bomb(rows: int, cols: int, text: str, *, count: int | None = -1) -> bytes:
    """A workbook repeating shared string 0 in ``rows × cols`` cells (``count=-1``: declared truly)."""
    row = "<row>" + '<c t="s"><v>0</v></c>' * cols + "</row>"
    sheet = f'<?xml version="1.0"?><worksheet xmlns="{_NS}"><sheetData>{row * (rows + 1)}</sheetData>'
    sheet += "</worksheet>"
    declared = "" if count is None else f' count="{(rows + 1) * cols if count == -1 else count}"'
    sst = f'<?xml version="1.0"?><sst xmlns="{_NS}"{declared} uniqueCount="1"><si><t>{text}</t></si></sst>'
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0"?><Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0"?><workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>'
            '<sheet name="驿站名单" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0"?><Relationships xmlns="{_PKG}">'
            f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": sheet,
        "xl/sharedStrings.xml": sst,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text_ in files.items():
            zf.writestr(name, text_)
    return buf.getvalue()


@pytest.fixture
def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if this process parses a workbook or a Parquet file's data (the checks must come first)."""
    import openpyxl

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the file was parsed before its declared sizes were checked")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)
    monkeypatch.setattr(pq, "read_table", refuse)


def test_a_quarter_megabyte_shared_string_bomb_is_refused_before_parsing(
    tmp_path: Path, no_parsing: None
) -> None:
    data = xlsx_bomb(100_000, 20, "热水" * 50)  # 2 M cells of one 100-character string
    assert len(data) < 300_000
    r = ingest.prepare(tmp_path, data, "驿站名单.xlsx", "stations").report
    assert r.error_code == "file_xlsx_bomb", r.error
    assert r.accepted == r.rows_in == 0
    assert "MB" in ingest.error_text(r, "zh")
    assert "CSV" in ingest.error_text(r, "en")
    # The sheet picker reads the same workbook: refused the same way.
    with pytest.raises(ingest.ImportFileError) as exc:
        ingest.xlsx_sheets(data, "stations")
    assert exc.value.code == "file_xlsx_bomb"


def test_a_declared_shared_string_count_over_the_cell_limit_is_refused(
    tmp_path: Path, no_parsing: None
) -> None:
    data = xlsx_bomb(3, 3, "热水", count=10**9)
    r = ingest.prepare(tmp_path, data, "a.xlsx", "stations", max_rows=1000).report
    assert r.error_code == "file_xlsx_cells"
    assert "1,000,000,000" in ingest.error_text(r, "en")


def test_shared_strings_that_expand_past_the_text_limit_are_refused(tmp_path: Path, no_parsing: None) -> None:
    # 20,000 references to one 30 kB string: 0.6 GB of text from a file of a few kB.
    data = xlsx_bomb(1_000, 20, "x" * 30_000)
    r = ingest.prepare(tmp_path, data, "a.xlsx", "stations", max_bytes=10 * 1024 * 1024).report
    assert r.error_code == "file_xlsx_bomb"


def test_what_the_checks_cannot_see_is_stopped_by_the_readers_memory_cap(tmp_path: Path) -> None:
    # No declared count: only the reader finds the 0.6 GB of text, under a 300 MB cap.
    data = xlsx_bomb(1_000, 20, "x" * 30_000, count=None)
    r = ingest.prepare(tmp_path, data, "a.xlsx", "stations", max_memory_mb=300).report
    assert r.error_code == "file_memory", r.error
    assert "300" in ingest.error_text(r, "zh")
    assert store.current_version(tmp_path) is None


def test_a_small_workbook_still_imports_through_the_capped_reader(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["站点名称", "纬度", "经度", "开放时间"])
    ws.append(["人民广场驿站", 31.2304, 121.4737, "08:00-20:00"])
    buf = io.BytesIO()
    wb.save(buf)
    r = ingest.import_bytes(tmp_path, buf.getvalue(), "a.xlsx", "stations", user="t", dry_run=True)
    assert r.error is None
    assert r.accepted == 1


def test_a_parquet_file_declaring_millions_of_rows_is_refused_from_its_footer(
    tmp_path: Path, no_parsing: None
) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"name": pa.nulls(5_000_000, pa.string())}), buf)
    data = buf.getvalue()
    assert len(data) < 100_000
    r = ingest.prepare(tmp_path, data, "a.parquet", "stations").report
    assert r.error_code == "file_rows"
    assert "1,000,000" in ingest.error_text(r, "en")


def test_reader_errors_and_bad_options_cross_the_process_boundary(tmp_path: Path) -> None:
    from geo.ingest import guard, read

    with pytest.raises(ingest.InputError, match="encoding"):  # an option error, raised in the child
        guard.run_capped(read._read_here, b"name\n\xff\n", "csv", "stations", "latin-9", None, 10, 10**6)
    wb = io.BytesIO()
    import openpyxl

    openpyxl.Workbook().save(wb)
    r = ingest.prepare(tmp_path, wb.getvalue(), "a.xlsx", "stations", sheet="驿站").report
    assert r.error_code == "file_sheet_missing"  # a file error of the child, with its code
    r = ingest.prepare(tmp_path, b"PK\x03\x04 not a zip", "a.xlsx", "stations").report
    assert r.error_code == "file_xlsx_bad"
