"""Excel 97-2003 workbooks (.xls) for the tests, written as older departmental systems export them."""
from __future__ import annotations


def write_xls(path, rows: list[list[str]]) -> None:
    """One sheet holding `rows` as text cells (an empty list is an empty row)."""
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Export")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(path))
