"""The one way Siyu writes a table as CSV or XLSX: every export (members, the dashboard's tables) uses it.

Names, tags and remarks come from chat and from imports, so a cell may hold `=HYPERLINK("http://evil/")`.
A spreadsheet program runs such a cell as a formula. OWASP's rule against CSV injection: a text cell
that begins with =, +, -, @, a tab or a carriage return gets a leading apostrophe in CSV, which makes
it text. XLSX cells of text are written with the string type, never as formulas, and keep their text
as it is. Numbers stay numbers and dates stay dates in both.

Moments (aware datetimes) are shown in the reader's time zone (`tz`, default the active one: the
workspace's in the console): in CSV as "2026-12-07 15:31", in XLSX as date cells with a number format.
An XLSX sheet has its header row frozen and its columns as wide as the header and the first SAMPLE_ROWS
rows need (CJK characters count two), at most MAX_WIDTH.
"""
import csv
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from itertools import chain, islice
from typing import IO, Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SHEET_TITLE_FORBIDDEN = str.maketrans("[]:*?/\\", "_______")
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
SAMPLE_ROWS = 500
MAX_WIDTH = 50


def moment_local(value: datetime, tz: tzinfo | None = None) -> datetime:
    """`value` as a naive datetime in `tz` (default the active time zone): spreadsheets hold no time zone."""
    if timezone.is_aware(value):
        value = value.astimezone(tz or timezone.get_current_timezone())
    return value.replace(tzinfo=None, microsecond=0)


def _csv_value(value: Any, tz: tzinfo | None) -> Any:
    if isinstance(value, datetime):
        return moment_local(value, tz).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return cell_defuse(value)


def text_width(value: Any) -> int:
    """How many character widths `value` takes in a spreadsheet column: wide (CJK) characters count two."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))


def cell_defuse(value: Any) -> Any:
    """`value`, or for text a spreadsheet would run as a formula, the text with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(*, headers: Sequence[Any], rows: Iterable[Sequence[Any]], tz: tzinfo | None = None) -> Iterator[str]:
    """Yield CSV text pieces, a BOM first (spreadsheet programs then read Chinese text as UTF-8), every cell
    defused, moments as local "YYYY-MM-DD HH:MM" in `tz` and days as "YYYY-MM-DD"."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([cell_defuse(str(h)) for h in headers])
    batch = []
    for row in rows:
        batch.append(writer.writerow([_csv_value(value, tz) for value in row]))
        if len(batch) >= 500:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def xlsx_write(
    *, out: IO[bytes], title: str, headers: Sequence[Any], rows: Iterable[Sequence[Any]], tz: tzinfo | None = None,
) -> None:
    """Write one sheet (openpyxl write-only, so memory stays bounded: only the first SAMPLE_ROWS rows are held,
    to fit the column widths) to `out`: text as strings, never formulas; moments as date cells in `tz`; the
    header row frozen."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=(title[:31].translate(_SHEET_TITLE_FORBIDDEN) or "Sheet"))
    header_texts = [str(h) for h in headers]
    rows = iter(rows)
    sample = [list(row) for row in islice(rows, SAMPLE_ROWS)]
    widths = [text_width(h) for h in header_texts]
    for values in sample:
        for n, value in enumerate(values):
            if n < len(widths):
                widths[n] = max(widths[n], text_width(value))
    for n, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(n)].width = min(width + 2, MAX_WIDTH)
    sheet.freeze_panes = "A2"

    def cells(values: Iterable[Any]) -> list[Any]:
        row = []
        for value in values:
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"  # openpyxl would make text beginning with "=" a formula
                row.append(cell)
            elif isinstance(value, datetime):
                cell = WriteOnlyCell(sheet, value=moment_local(value, tz))
                cell.number_format = DATETIME_FORMAT
                row.append(cell)
            elif isinstance(value, date):
                cell = WriteOnlyCell(sheet, value=value)  # type: ignore[arg-type]  # openpyxl writes dates; its stubs omit them
                cell.number_format = DATE_FORMAT
                row.append(cell)
            else:
                row.append(value)
        return row

    sheet.append(cells(header_texts))
    for row_values in chain(sample, rows):
        sheet.append(cells(row_values))
    book.save(out)
