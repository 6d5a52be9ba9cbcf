"""Tables as CSV or XLSX downloads: every table the console shows can leave as a spreadsheet."""
import io
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpResponse

from siyu.core.spreadsheets import XLSX_CONTENT_TYPE, csv_stream, xlsx_write

FORMATS = {"csv", "xlsx"}


def table_download(*, filename: str, headers: Sequence[Any], rows: Iterable[Sequence[Any]], fmt: str) -> HttpResponse:
    """An attachment response with `headers` and `rows` (lists of plain values) as CSV or XLSX (siyu.core.spreadsheets)."""
    if fmt == "xlsx":
        buffer = io.BytesIO()
        xlsx_write(out=buffer, title=filename, headers=headers, rows=rows)
        response = HttpResponse(buffer.getvalue(), content_type=XLSX_CONTENT_TYPE)
    else:
        response = HttpResponse("".join(csv_stream(headers=headers, rows=rows)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response
