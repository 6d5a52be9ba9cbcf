"""Tables as CSV or XLSX downloads: every table the console shows can leave as a spreadsheet."""
import csv
import io

from django.http import HttpResponse
from openpyxl import Workbook

FORMATS = {"csv", "xlsx"}


def table_download(*, filename, headers, rows, fmt):
    """An attachment response with `headers` and `rows` (lists of plain values) as CSV or XLSX."""
    if fmt == "xlsx":
        book = Workbook()
        sheet = book.active
        sheet.title = filename[:31]
        sheet.append([str(h) for h in headers])
        for row in rows:
            sheet.append(list(row))
        buffer = io.BytesIO()
        book.save(buffer)
        response = HttpResponse(
            buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    else:
        buffer = io.StringIO()
        buffer.write("\ufeff")  # a BOM, so spreadsheet programs read the Chinese text as UTF-8
        writer = csv.writer(buffer)
        writer.writerow([str(h) for h in headers])
        writer.writerows(rows)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response
