"""The results workbook the uploader downloads: one row per number, plus the rejected rows.

No value is ever a formula: text starting with ``=``, ``+``, ``-`` or ``@`` (which spreadsheet apps
would evaluate) is an explicit, quote-prefixed string cell, so opening the file runs nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from callcentre.scraping.workbook import RejectedRow

FORMULA_TRIGGERS = ("=", "+", "-", "@")
RESULT_COLUMNS = ("number", "status", "carrier", "line_type")


def write_results(
    path: str | Path, results: list[dict], rejected: list[RejectedRow], source: list[tuple[str, str]] | None = None
) -> Path:
    """Write ``results`` (the API's answers), ``rejected`` rows and, in sheet ``source``, what was read
    (file, sheet, column) to ``path`` atomically."""
    from openpyxl import Workbook

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet("results")
    columns = list(RESULT_COLUMNS)
    for answer in results:  # keep whatever extra fields the API returns, in first-seen order
        columns += [key for key in answer if key not in columns]
    sheet.append([_cell(sheet, c) for c in columns])
    for answer in results:
        sheet.append([_cell(sheet, answer.get(c)) for c in columns])
    rejected_sheet = wb.create_sheet("rejected")
    rejected_sheet.append([_cell(rejected_sheet, c) for c in ("row", "value", "reason")])
    for row in rejected:
        rejected_sheet.append([row.row, _cell(rejected_sheet, row.value), _cell(rejected_sheet, row.reason)])
    if source:
        source_sheet = wb.create_sheet("source")
        for key, value in source:
            source_sheet.append([_cell(source_sheet, key), _cell(source_sheet, value)])
    tmp = path.with_name(path.name + ".part")
    wb.save(tmp)
    os.replace(tmp, path)
    return path


def _cell(sheet, value):
    """A write-only cell that can never be a formula."""
    from openpyxl.cell import WriteOnlyCell

    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, (dict, list)):
        import json

        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    cell = WriteOnlyCell(sheet)
    cell.value = text
    # openpyxl types a string starting with "=" as a formula: force a plain string cell, and ask
    # spreadsheet apps (quotePrefix) to keep any formula-like text as text when edited.
    cell.data_type = "s"
    if text.startswith(FORMULA_TRIGGERS):
        cell.quotePrefix = True
    return cell
