"""Reading an uploaded workbook into a clean, de-duplicated list of phone numbers.

Rules (the contract with the staff who upload files):

* ``.xlsx`` only, read with openpyxl in read-only mode; the first (active) sheet is used.
* The phone column is the first header cell named telefono, teléfono, phone, número, numero,
  celular, móvil or movil (any case, surrounding spaces ignored). Without such a header the first
  column is used; its first row counts as data when it holds a phone number, else as a header.
* A number keeps its digits and an optional leading ``+``: spaces, dashes, dots and parentheses are
  removed, numeric cells such as ``3001234567.0`` become ``3001234567``. 7 to 15 digits (E.164).
* Duplicates are removed (first occurrence kept); empty cells are ignored; anything else is a
  rejected row (row number and value) for the ``rejected`` sheet of the results.
* At most :data:`MAX_NUMBERS` distinct numbers.

Every problem with the file itself raises :class:`BadWorkbook` with a message for the uploader.
"""

from __future__ import annotations

import dataclasses
import itertools
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
PHONE_HEADERS = ("telefono", "teléfono", "phone", "número", "numero", "celular", "móvil", "movil")
_HEADER_KEYS = {unicodedata.normalize("NFC", h) for h in PHONE_HEADERS}
_SEPARATORS = re.compile(r"[\s\-.()\u00a0]+")
_PHONE = re.compile(r"^\+?\d{7,15}$")
_FLOAT_TEXT = re.compile(r"^\+?\d+\.0+$")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")


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


def normalise_phone(value) -> str | None:
    """The canonical text of a phone number, or None when ``value`` is not one."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if not value.is_integer():
            return None
        text = str(Decimal(value).quantize(Decimal(1)))
    elif isinstance(value, Decimal):
        if value != value.to_integral_value():
            return None
        text = str(value.quantize(Decimal(1)))
    elif isinstance(value, str):
        text = value.strip()
        if _FLOAT_TEXT.match(text):  # "3001234567.0": a number cell exported as text
            text = text.split(".")[0]
        text = _SEPARATORS.sub("", text)
    else:  # dates, times: not phone numbers
        return None
    return text if _PHONE.match(text) else None


def is_phone_header(value) -> bool:
    if not isinstance(value, str):
        return False
    return unicodedata.normalize("NFC", value.strip().lower()) in _HEADER_KEYS


def read_phone_numbers(path: str | Path, max_numbers: int = MAX_NUMBERS, name: str | None = None) -> PhoneList:
    """Parse the upload at ``path``; raise :class:`BadWorkbook` for a file that cannot be used.

    ``name`` is the file name the uploader knows (messages use it); default: the stored name.
    """
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
        sheet = wb.active if wb.active is not None else wb.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        while first is not None and all(_blank(c) for c in first):
            first = next(rows, None)
        if first is None:
            raise BadWorkbook(f"{name}: the sheet {sheet.title!r} has no rows")
        header_index = next((i for i, cell in enumerate(first) if is_phone_header(cell)), None)
        if header_index is not None:
            column, header, start_row, data = header_index, str(first[header_index]).strip(), 2, rows
        else:
            column, header = 0, None
            first_is_data = normalise_phone(first[0] if first else None) is not None
            start_row = 1 if first_is_data else 2
            data = itertools.chain([first], rows) if first_is_data else rows
            if not first_is_data and not _blank(first[0] if first else None):
                header = str(first[0]).strip()
        result = _collect(name, data, column, start_row, max_numbers)
    finally:
        wb.close()
    numbers, rejected, duplicates, data_rows = result
    if data_rows == 0:
        raise BadWorkbook(f"{name}: no data rows below the header {header!r}" if header else f"{name}: no rows")
    if not numbers and header_index is None and header is not None:
        headers = [str(c).strip() for c in first if not _blank(c)]
        raise BadWorkbook(
            f"{name}: no phone column. Headers found: {', '.join(headers)[:200]}; name the column one of "
            f"{', '.join(PHONE_HEADERS)}, or put the numbers in the first column"
        )
    return PhoneList(numbers, rejected, header, column, duplicates, data_rows)


def _collect(name, rows, column: int, start_row: int, max_numbers: int):
    seen: set[str] = set()
    numbers: list[str] = []
    rejected: list[RejectedRow] = []
    duplicates = data_rows = 0
    for offset, row in enumerate(rows):
        value = row[column] if row and column < len(row) else None
        if _blank(value):
            continue
        data_rows += 1
        if data_rows > MAX_ROWS:
            raise BadWorkbook(f"{name}: more than {MAX_ROWS} rows; at most {max_numbers} numbers per file")
        number = normalise_phone(value)
        if number is None:
            rejected.append(RejectedRow(start_row + offset, str(value)[:100], "not a phone number (7-15 digits)"))
        elif number in seen:
            duplicates += 1
        else:
            seen.add(number)
            numbers.append(number)
            if len(numbers) > max_numbers:
                raise BadWorkbook(
                    f"{name}: more than {max_numbers} phone numbers; split the file into parts of at most {max_numbers}"
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


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
