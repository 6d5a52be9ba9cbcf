"""The one way Siyu writes a table as CSV or XLSX: every export (members, the dashboard's tables) uses it.

Names, tags and remarks come from chat and from imports, so a cell may hold `=HYPERLINK("http://evil/")`.
A spreadsheet program runs such a cell as a formula. OWASP's rule against CSV injection: a text cell
that begins with =, +, -, @, a tab or a carriage return gets a leading apostrophe in CSV, which makes
it text. XLSX cells of text are written with the string type, never as formulas, and keep their text
as it is. Numbers stay numbers and dates stay dates in both.
"""
import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SHEET_TITLE_FORBIDDEN = str.maketrans("[]:*?/\\", "_______")


def cell_defuse(value: Any) -> Any:
    """`value`, or for text a spreadsheet would run as a formula, the text with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(*, headers: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Yield CSV text pieces, a BOM first (spreadsheet programs then read Chinese text as UTF-8), every cell defused."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([cell_defuse(str(h)) for h in headers])
    batch = []
    for row in rows:
        batch.append(writer.writerow([cell_defuse(value) for value in row]))
        if len(batch) >= 500:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def xlsx_write(*, out: IO[bytes], title: str, headers: Sequence[Any], rows: Iterable[Sequence[Any]]) -> None:
    """Write one sheet (openpyxl write-only, so memory stays bounded) to `out`: text as strings, never formulas."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=(title[:31].translate(_SHEET_TITLE_FORBIDDEN) or "Sheet"))

    def cells(values: Iterable[Any]) -> list[Any]:
        row = []
        for value in values:
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"  # openpyxl would make text beginning with "=" a formula
                row.append(cell)
            else:
                row.append(value)
        return row

    sheet.append(cells(str(h) for h in headers))
    for values in rows:
        sheet.append(cells(values))
    book.save(out)
