"""The uploaded workbook read into a clean, de-duplicated list of phone numbers; the results workbook written.

The rules (sheet, phone column, number format, limits) are the contract with the staff who upload
files: docs/scraping.md, "The workbook". Every problem with the file itself raises
:class:`BadWorkbook` with a message for the uploader. No value written is ever a formula.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import unicodedata
import zipfile
from decimal import Decimal
from pathlib import Path

MAX_NUMBERS = 5000
# Beyond this many data rows the file is refused without reading further (a 1M-row sheet of junk).
MAX_ROWS = MAX_NUMBERS * 10
# 5000 numbers fit in well under 1 MB; anything this big is not the file the staff meant to upload.
MAX_FILE_BYTES = 20 * 1024 * 1024
# What a workbook may unpack to, and how many cells its worksheets may hold, checked before parsing.
# A 5000-number list with 20 columns of CRM data is ~100,000 cells and a few MB of XML.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_CELLS = 1_000_000
MAX_ZIP_ENTRIES = 1000
# A title (often merged cells) and blank rows may sit above the header row.
HEADER_SCAN_ROWS = 10
PHONE_HEADERS = ("telefono", "teléfono", "phone", "número", "numero", "celular", "móvil", "movil")
_HEADER_KEYS = {unicodedata.normalize("NFC", h) for h in PHONE_HEADERS}
_SEPARATORS = re.compile(r"[\s\-.()\u00a0]+")
_PHONE = re.compile(r"^\+?[0-9]{7,15}$")
_FLOAT_TEXT = re.compile(r"^\+?[0-9]+\.0+$")
_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")  # <c r=..>, <c/>, <x:c ..> (prefixed SpreadsheetML)
NOT_A_PHONE = "not a phone number (7-15 digits)"
NOT_ASCII_DIGITS = "digits other than 0-9 (write the number with the digits 0-9)"
FORMULA_WITHOUT_VALUE = ("a formula saved without its value (written by a program, not a spreadsheet app):"
                         " open the file in Excel or LibreOffice and save it, or paste the values")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")
FORMULA_TRIGGERS = ("=", "+", "-", "@")
RESULT_COLUMNS = ("number", "status", "carrier", "line_type")


class BadWorkbook(ValueError):
    """The upload cannot be processed as it is; the message tells the uploader why."""


@dataclasses.dataclass(frozen=True)
class RejectedRow:
    row: int
    value: str
    reason: str


@dataclasses.dataclass(frozen=True)
class PhoneList:
    numbers: list[str]
    rejected: list[RejectedRow]
    column_header: str | None
    column_index: int
    duplicates: int
    data_rows: int
    sheet: str = ""
    header_row: int | None = None  # 1-based; None when the first row already holds data

    @property
    def source(self) -> str:
        """Where the numbers were read, for the job row and the results workbook."""
        from openpyxl.utils import get_column_letter

        column = get_column_letter(self.column_index + 1)
        where = f"sheet {self.sheet!r}, column {column}"
        if self.column_header:
            where += f" ({self.column_header!r}, header in row {self.header_row})"
        return where


def check_phone(value) -> tuple[str | None, str | None]:
    """``(the canonical text of the phone number, None)``, or ``(None, why it is not one)``."""
    text = _phone_text(value)
    if text is not None and _PHONE.match(text):
        return text, None
    if text is not None and any(c.isdigit() and not "0" <= c <= "9" for c in text):
        return None, NOT_ASCII_DIGITS
    return None, NOT_A_PHONE


def _phone_text(value) -> str | None:
    """``value`` as the text to check: separators gone, Unicode compatibility forms folded (NFKC)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if not value.is_integer():
            return None
        text = str(Decimal(value).quantize(Decimal(1)))
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        if _FLOAT_TEXT.match(text):  # "3001234567.0": a number cell exported as text
            text = text.split(".")[0]
        text = _SEPARATORS.sub("", text)
    else:  # dates, times: not phone numbers
        return None
    return text


def is_phone_header(value) -> bool:
    if not isinstance(value, str):
        return False
    # A form's "Teléfono:" and a template's required mark "Celular *" name the same column.
    return unicodedata.normalize("NFC", unicodedata.normalize("NFKC", value).strip().rstrip(":*").strip().lower()) in _HEADER_KEYS


def read_phone_numbers(path: str | Path, name: str | None = None) -> PhoneList:
    """Parse the upload at ``path``; raise :class:`BadWorkbook` for a file that cannot be used.
    ``name``: the file name the uploader knows, for the messages (default: the stored name)."""
    path = Path(path)
    name = name or path.name
    _check_container(path, name)
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as err:
        raise BadWorkbook(f"{name}: corrupt workbook, openpyxl cannot read it ({type(err).__name__})") from err
    try:
        sheet, top = _pick_sheet(wb.worksheets, name)
        if not top:
            raise BadWorkbook(f"{name}: the sheet {sheet.title!r} has no rows")
        found = next(((n, row, i) for n, row in top for i, cell in enumerate(row or ()) if is_phone_header(cell)), None)
        if found is not None:
            header_row, first, column = found
            header, start_row = str(first[column]).strip(), header_row + 1
        else:  # the first column; its first row is a header unless it holds a phone number
            column, (first_row, first) = 0, top[0]
            if check_phone(_cell(first, 0))[0] is not None:
                header_row, header, start_row = None, None, first_row
            else:
                header_row, start_row = first_row, first_row + 1
                header = None if _blank(_cell(first, 0)) else str(first[0]).strip()
        # Below the rows scanned, only the phone column: a stray cell far to the right cannot widen
        # every row (the dimension record, which would have bounded that, is not trusted).
        rows = (row[0] if row else None for row in sheet.iter_rows(
            min_row=top[-1][0] + 1, min_col=column + 1, max_col=column + 1, values_only=True))
        data = itertools.chain((_cell(row, column) for n, row in top if n >= start_row), rows)
        result = _collect(name, data, start_row, lambda: _unsaved_formulas(path, sheet, column, start_row))
    finally:
        wb.close()
    numbers, rejected, duplicates, data_rows = result
    if data_rows == 0:
        raise BadWorkbook(f"{name}: no data rows below the header {header!r}" if header else f"{name}: no rows")
    if not numbers and found is None and header is not None:
        # Never quote the cells: a header row may well be a row of customer data.
        raise BadWorkbook(
            f"{name}: no phone column in sheet {sheet.title!r}: no header in its first {HEADER_SCAN_ROWS} rows "
            f"is named one of {', '.join(PHONE_HEADERS)}, and the first column holds no phone number; "
            "name the column, or put the numbers in the first column"
        )
    return PhoneList(numbers, rejected, header, column, duplicates, data_rows, sheet.title, header_row)


def _pick_sheet(sheets, name: str):
    """``(sheet, [(row number, row)])``: the first visible sheet with a phone header near its top,
    else the first visible sheet (a hidden sheet is never read: an old list kept out of sight). The
    rows (blank ones included, so row numbers stay right) run from the sheet's first non-blank row
    to :data:`HEADER_SCAN_ROWS` rows down; empty for an empty sheet."""
    first = None
    for sheet in [s for s in sheets if s.sheet_state == "visible"] or sheets:  # Excel keeps one visible
        sheet.reset_dimensions()  # the dimension record may say A1 for a full sheet
        top = _top_rows(sheet)
        if any(is_phone_header(cell) for _, row in top for cell in row):
            return sheet, top
        first = first or (sheet, top)
    if first is None:
        raise BadWorkbook(f"{name}: the workbook has no sheets")
    return first


def _top_rows(sheet) -> list[tuple[int, tuple]]:
    top: list[tuple[int, tuple]] = []
    for n, row in enumerate(sheet.iter_rows(values_only=True), 1):
        if top or not all(_blank(c) for c in row or ()):
            top.append((n, row))
        if len(top) >= HEADER_SCAN_ROWS or n > MAX_ROWS:
            break
    return top


def _cell(row, column: int):
    return row[column] if row and column < len(row) else None


def _unsaved_formulas(path: Path, sheet, column: int, start_row: int) -> dict[int, str]:
    """{row: formula} of the column's formulas saved without their result, read from the sheet's
    XML (openpyxl gives a formula or its saved result, and a blank for both cases below). A program
    writing formulas alone (openpyxl, some exports) saves none; a spreadsheet app always does, and
    an empty text result (``=IF(B2="","",B2)``, filled down a template) is ``t="str"`` with an empty
    value: a blank cell on purpose."""
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

    found: dict[int, str] = {}
    # openpyxl's read-only sheet keeps its part's name in _worksheet_path (openpyxl 3.x).
    with zipfile.ZipFile(path) as zf, zf.open(sheet._worksheet_path) as part:
        for _, element in iterparse(part):
            if _local(element.tag) == "c" and element.get("r") and element.get("t", "n") != "str":
                letters, row = coordinate_from_string(element.get("r"))
                if row >= start_row and column_index_from_string(letters) == column + 1:  # the phone column only
                    children = {_local(child.tag): child for child in element}
                    if "f" in children and not (children.get("v") is not None and children["v"].text):
                        found[row] = "=" + children["f"].text if children["f"].text else "(a shared formula)"
            if _local(element.tag) in ("c", "row"):
                element.clear()
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _collect(name, values, start_row: int, read_formulas):
    seen: set[str] = set()
    numbers: list[str] = []
    rejected: list[RejectedRow] = []
    duplicates = data_rows = 0
    formulas = None  # read at the first blank cell: a sheet without one is read once
    for row, value in enumerate(values, start_row):
        unsaved = False
        if _blank(value):
            formulas = read_formulas() if formulas is None else formulas
            if row not in formulas:
                continue
            value, unsaved = formulas[row], True
        data_rows += 1
        if data_rows > MAX_ROWS:
            raise BadWorkbook(f"{name}: more than {MAX_ROWS} rows; at most {MAX_NUMBERS} numbers per file")
        number, reason = (None, FORMULA_WITHOUT_VALUE) if unsaved else check_phone(value)
        if number is None:
            rejected.append(RejectedRow(row, str(value)[:100], reason))
        elif number in seen:
            duplicates += 1
        else:
            seen.add(number)
            numbers.append(number)
            if len(numbers) > MAX_NUMBERS:
                raise BadWorkbook(
                    f"{name}: more than {MAX_NUMBERS} phone numbers; split the file into parts of at most {MAX_NUMBERS}"
                )
    return numbers, rejected, duplicates, data_rows


def _check_container(path: Path, name: str) -> None:
    if path.suffix.lower() != ".xlsx":
        raise BadWorkbook(f"{name}: not an .xlsx file (extension {path.suffix or 'missing'}); save it as Excel .xlsx")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except FileNotFoundError as err:
        raise BadWorkbook(f"{name}: the uploaded file is missing from the uploads folder") from err
    if path.stat().st_size > MAX_FILE_BYTES:
        raise BadWorkbook(f"{name}: the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if head.startswith(_OLE_MAGIC):
        # Encrypted .xlsx files are OLE2 containers with an EncryptionInfo stream; plain OLE2 is .xls.
        with path.open("rb") as fh:
            if _ENCRYPTION_STREAM in fh.read(1 << 20):
                raise BadWorkbook(f"{name}: the workbook is password-protected (encrypted); save it without a password")
        raise BadWorkbook(f"{name}: this is an old .xls (Excel 97-2003) file, not .xlsx; save it as .xlsx")
    if not head.startswith(b"PK"):
        raise BadWorkbook(f"{name}: not an .xlsx workbook (the content is not an Excel file)")
    if not zipfile.is_zipfile(path):
        raise BadWorkbook(f"{name}: corrupt workbook (damaged or truncated zip container)")
    _check_unpacked(path, name)


# Excel's "Strict Open XML Spreadsheet" (also .xlsx): openpyxl reads no sheet from it.
_STRICT_NAMESPACE = b"purl.oclc.org/ooxml/spreadsheetml/main"


def _check_unpacked(path: Path, name: str) -> None:
    """Refuse a workbook whose parts would unpack too big or hold too many cells, before parsing.

    The sizes come from the zip's central directory; zipfile stops inflating a part at its
    declared size (and fails its CRC), so a part that lies about its size cannot unpack further.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            parts = zf.infolist()
            if len(parts) > MAX_ZIP_ENTRIES:
                raise BadWorkbook(f"{name}: not a normal workbook ({len(parts)} parts in the zip container)")
            unpacked = sum(p.file_size for p in parts)
            if unpacked > MAX_UNPACKED_BYTES:
                raise BadWorkbook(
                    f"{name}: the workbook unpacks to {unpacked // (1024 * 1024):,} MB, more than "
                    f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MB; save only the sheet with the numbers"
                )
            cells = 0
            for part in parts:
                if part.filename.lower() == "xl/workbook.xml" and _STRICT_NAMESPACE in zf.open(part).read(4096):
                    raise BadWorkbook(f"{name}: saved as Strict Open XML Spreadsheet, which cannot be read; "
                                      "save it as Excel Workbook (.xlsx)")
                if "worksheets/" in part.filename.lower() and part.filename.lower().endswith(".xml"):
                    cells += _count_cells(zf, part)
                    if cells > MAX_CELLS:
                        raise BadWorkbook(
                            f"{name}: the workbook has more than {MAX_CELLS:,} cells; "
                            "save only the column with the numbers"
                        )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError, ValueError) as err:
        if isinstance(err, BadWorkbook):
            raise
        raise BadWorkbook(f"{name}: corrupt workbook (damaged zip container: {type(err).__name__})") from err


def _count_cells(zf: zipfile.ZipFile, part: zipfile.ZipInfo) -> int:
    """Cell elements in a worksheet part, streamed (a chunk is cut after its last '>': no tag is split)."""
    count, carry = 0, b""
    with zf.open(part) as fh:
        while chunk := fh.read(1 << 20):
            buf = carry + chunk
            cut = buf.rfind(b">") + 1
            count += len(_CELL_TAG.findall(buf, 0, cut)) if cut else 0
            carry = buf[cut:]
            if len(carry) > 1 << 20:  # no '>' in a whole chunk: not XML cells anyway
                carry = carry[-64:]
            if count > MAX_CELLS:
                break
    return count + len(_CELL_TAG.findall(carry))


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def write_results(
    path: str | Path, results: list[dict], rejected: list[RejectedRow], source: list[tuple[str, str]] | None = None
) -> Path:
    """Write the API's answers, the rejected rows and, in sheet ``source``, what was read, atomically."""
    from openpyxl import Workbook

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet("results")
    columns = list(RESULT_COLUMNS)
    for answer in results:  # keep whatever extra fields the API returns, in first-seen order
        columns += [key for key in answer if key not in columns]
    sheet.append([_text_cell(sheet, c) for c in columns])
    for answer in results:
        sheet.append([_text_cell(sheet, answer.get(c)) for c in columns])
    rejected_sheet = wb.create_sheet("rejected")
    rejected_sheet.append([_text_cell(rejected_sheet, c) for c in ("row", "value", "reason")])
    for row in rejected:
        rejected_sheet.append([row.row, _text_cell(rejected_sheet, row.value), _text_cell(rejected_sheet, row.reason)])
    if source:
        source_sheet = wb.create_sheet("source")
        for key, value in source:
            source_sheet.append([_text_cell(source_sheet, key), _text_cell(source_sheet, value)])
    tmp = path.with_name(path.name + ".part")
    wb.save(tmp)
    os.replace(tmp, path)
    return path


def _text_cell(sheet, value):
    """A write-only cell that can never be a formula."""
    from openpyxl.cell import WriteOnlyCell

    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
    cell = WriteOnlyCell(sheet)
    cell.value = text
    # openpyxl types a string starting with "=" as a formula: force a plain string cell, and ask
    # spreadsheet apps (quotePrefix) to keep any formula-like text as text when edited.
    cell.data_type = "s"
    if text.startswith(FORMULA_TRIGGERS):
        cell.quotePrefix = True
    return cell
