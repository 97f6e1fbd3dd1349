"""Workbook rules: header detection, normalisation, de-duplication, rejected rows, bad files."""

from __future__ import annotations

import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from callcentre.scraping.workbook import (
    FORMULA_WITHOUT_VALUE, NOT_ASCII_DIGITS, BadWorkbook, RejectedRow, check_phone, read_phone_numbers, write_results,
)
from tests.scraping_fixtures import raw_xlsx


def _book(path, rows):
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    return path


@pytest.mark.parametrize(
    "value, expected",
    [
        ("300 123 4567", "3001234567"),
        ("(300) 123-4567", "3001234567"),
        ("300.123.4567", "3001234567"),
        ("+57 300-123-4567", "+573001234567"),
        (3001234567, "3001234567"),
        (3001234567.0, "3001234567"),
        ("3001234567.0", "3001234567"),
        (" 601 555 1234 ", "6015551234"),
        ("300\u00a0123\u00a04567", "3001234567"),
        (3001234567.5, None),
        ("abc", None),
        ("12345", None),
        ("+", None),
        ("1234567890123456", None),
        ("300-ABC-4567", None),
        ("５５１２３４５６７８", "5512345678"),  # full-width, pasted from a web page
        ("＋５７ ３００－１２３－４５６７", "+573001234567"),
        ("٣٠٠١٢٣٤٥٦٧", None),  # Arabic-Indic digits: NFKC leaves them, the API takes 0-9 only
        ("३००१२३४५६७", None),  # Devanagari
        (True, None),
        (None, None),
    ],
)
def test_normalise_phone(value, expected):
    assert check_phone(value)[0] == expected


@pytest.mark.parametrize("header", ["Telefono", "TELÉFONO", " phone ", "Número", "numero", "Celular", "Móvil", "movil",
                                    "Teléfono:", "Celular *", "Teléfono*",  # a form's label, a template's required mark
                                    "Teléfono\r\n"])  # pasted from a Windows app (Excel writes _x000D_)
def test_phone_column_found_by_header(tmp_path, header):
    path = _book(tmp_path / "a.xlsx", [["Nombre", header], ["Ana", "3001234567"], ["Luis", 3109876543]])
    phones = read_phone_numbers(path)
    assert phones.numbers == ["3001234567", "3109876543"]
    assert phones.column_index == 1 and phones.column_header == header.strip()


def test_first_column_without_header_keeps_first_row(tmp_path):
    path = _book(tmp_path / "a.xlsx", [[3001234567, "x"], ["300-987-6543", "y"]])
    phones = read_phone_numbers(path)
    assert phones.numbers == ["3001234567", "3009876543"] and phones.column_header is None


def test_first_column_with_unknown_header(tmp_path):
    path = _book(tmp_path / "a.xlsx", [["contacto"], ["3001234567"]])
    assert read_phone_numbers(path).numbers == ["3001234567"]


def test_duplicates_removed_and_rejects_listed_with_row(tmp_path):
    path = _book(
        tmp_path / "a.xlsx",
        [["phone"], ["300 123 4567"], ["3001234567"], ["llamar"], [None], ["  "], [3001234567.0], ["12"]],
    )
    phones = read_phone_numbers(path)
    assert phones.numbers == ["3001234567"]
    assert phones.duplicates == 2
    assert [(r.row, r.value) for r in phones.rejected] == [(4, "llamar"), (8, "12")]


def test_at_most_5000_numbers(tmp_path):
    rows = [["phone"]] + [[f"3{n:09d}"] for n in range(5000)]
    assert len(read_phone_numbers(_book(tmp_path / "ok.xlsx", rows)).numbers) == 5000
    rows.append(["3999999999"])
    with pytest.raises(BadWorkbook, match="more than 5000 phone numbers"):
        read_phone_numbers(_book(tmp_path / "big.xlsx", rows))


def test_duplicates_do_not_count_towards_the_limit(tmp_path):
    rows = [["phone"]] + [["3001234567"]] * 6000
    assert read_phone_numbers(_book(tmp_path / "dups.xlsx", rows)).numbers == ["3001234567"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("a.csv", b"phone\n3001234567\n", "not an .xlsx file"),
        ("a.xlsx", b"phone,3001234567", "not an .xlsx workbook"),
        ("a.xlsx", b"PK\x03\x04garbage", "corrupt workbook"),
        ("a.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old .xls"),
        (
            "a.xlsx",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600 + "EncryptionInfo".encode("utf-16-le"),
            "password-protected",
        ),
    ],
)
def test_bad_containers(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadWorkbook, match=message):
        read_phone_numbers(path)


def test_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "a.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "not excel")
    with pytest.raises(BadWorkbook, match="corrupt workbook"):
        read_phone_numbers(path)


def test_empty_sheet_and_header_only(tmp_path):
    with pytest.raises(BadWorkbook, match="no rows"):
        read_phone_numbers(_book(tmp_path / "e.xlsx", []))
    with pytest.raises(BadWorkbook, match="no data rows below the header 'phone'"):
        read_phone_numbers(_book(tmp_path / "h.xlsx", [["phone"]]))


def test_no_phone_column_never_quotes_the_cells(tmp_path):
    """A first row of customer data (no header at all) must not end up in the error, Slack or logs."""
    path = _book(tmp_path / "n.xlsx", [["Ana Pérez", "55 92 19 32 70x", "ana@x.co"], ["Luis", "n/a", "l@x.co"]])
    with pytest.raises(BadWorkbook, match="n.xlsx: no phone column in sheet 'Sheet'") as err:
        read_phone_numbers(path)
    assert "Ana" not in str(err.value) and "55 92" not in str(err.value) and "@x.co" not in str(err.value)


def test_the_first_sheet_is_read_whichever_sheet_was_open(tmp_path):
    """Saved with its second sheet open (wb.active = sheet 2): the list on the first sheet is read."""
    wb = Workbook()
    clientes = wb.active
    clientes.title = "Clientes"
    for row in (["Nombre", "Teléfono"], ["Ana", "3001112233"], ["Luis", "3004445566"]):
        clientes.append(row)
    notas = wb.create_sheet("Notas")
    for row in (["Teléfono", "Nota"], ["3009998877", "llamar luego"]):
        notas.append(row)
    wb.active = 1
    wb.save(tmp_path / "dos hojas.xlsx")
    assert load_workbook(tmp_path / "dos hojas.xlsx").active.title == "Notas"

    phones = read_phone_numbers(tmp_path / "dos hojas.xlsx")

    assert phones.numbers == ["3001112233", "3004445566"]
    assert phones.sheet == "Clientes" and phones.source == "sheet 'Clientes', column B ('Teléfono', header in row 1)"


def test_a_sheet_without_the_phone_header_gives_way_to_one_with_it(tmp_path):
    wb = Workbook()
    wb.active.title = "Portada"
    wb.active.append(["Lista de noviembre"])
    datos = wb.create_sheet("Datos")
    for row in (["id", "celular"], [1, "300 111 2233"]):
        datos.append(row)
    wb.save(tmp_path / "portada.xlsx")
    phones = read_phone_numbers(tmp_path / "portada.xlsx")
    assert phones.numbers == ["3001112233"] and phones.sheet == "Datos"


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_sheet_is_never_read(tmp_path, state):
    """Last month's list kept on a hidden first sheet: the visible list is the one sent."""
    wb = Workbook()
    viejos = wb.active
    viejos.title = "Octubre"
    for row in (["Teléfono"], ["3001112233"]):
        viejos.append(row)
    viejos.sheet_state = state
    nuevos = wb.create_sheet("Noviembre")
    for row in (["Teléfono"], ["3004445566"]):
        nuevos.append(row)
    wb.active = 1
    wb.save(tmp_path / "oculta.xlsx")

    phones = read_phone_numbers(tmp_path / "oculta.xlsx")

    assert phones.numbers == ["3004445566"] and phones.sheet == "Noviembre"


def test_title_row_above_the_header(tmp_path):
    """Merged title "Clientes noviembre" in row 1, a blank row, the real header in row 3."""
    wb = Workbook()
    ws = wb.active
    ws.append(["Clientes noviembre", None, None])
    ws.merge_cells("A1:C1")
    ws.append([])
    ws.append(["Nombre", "Teléfono", "Ciudad"])
    ws.append(["Ana", "300 123 4567", "Cali"])
    ws.append(["Luis", "no tiene", "Pasto"])
    wb.save(tmp_path / "titulo.xlsx")

    phones = read_phone_numbers(tmp_path / "titulo.xlsx")

    assert phones.numbers == ["3001234567"]
    assert phones.rejected == [RejectedRow(5, "no tiene", "not a phone number (7-15 digits)")]
    assert (phones.column_header, phones.header_row) == ("Teléfono", 3)


def test_oversized_file(tmp_path):
    path = tmp_path / "huge.xlsx"
    with path.open("wb") as fh:
        fh.write(b"PK\x03\x04")
        fh.truncate(21 * 1024 * 1024)
    with pytest.raises(BadWorkbook, match="larger than 20 MB"):
        read_phone_numbers(path)


def test_missing_file(tmp_path):
    with pytest.raises(BadWorkbook, match="missing"):
        read_phone_numbers(tmp_path / "gone.xlsx")


def test_results_never_contain_formulas(tmp_path):
    answers = [
        {"number": "+573001234567", "status": "=1+1", "carrier": "@SUM(A1)", "line_type": "-2", "extra": {"a": 1}},
        {"number": "3001234567", "status": "active", "carrier": "=HYPERLINK(\"http://x\")", "line_type": "mobile"},
    ]
    path = write_results(tmp_path / "out.xlsx", answers, [RejectedRow(7, "=cmd|' /C calc'!A0", "not a phone")])
    wb = load_workbook(path)
    cells = [c for ws in wb for row in ws.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    results = [[c.value for c in row] for row in wb["results"].iter_rows()]
    assert results[0] == ["number", "status", "carrier", "line_type", "extra"]
    assert results[1] == ["+573001234567", "=1+1", "@SUM(A1)", "-2", '{"a": 1}']
    assert [[c.value for c in row] for row in wb["rejected"].iter_rows()][1] == [7, "=cmd|' /C calc'!A0", "not a phone"]
    assert not list(tmp_path.glob("*.part"))


def test_rejection_reasons_name_the_rule():
    assert check_phone("٣٠٠١٢٣٤٥٦٧")[1] == NOT_ASCII_DIGITS
    assert check_phone("llamar")[1] == "not a phone number (7-15 digits)"
    assert check_phone("５５１２３４５６７８")[1] is None


@pytest.mark.parametrize("strings", ["inline", "shared"])
def test_a_crm_export_with_a_wrong_dimension_record_is_read_whole(tmp_path, strings):
    """Written part by part as a CRM does: dimension A1, no styles, inline (or shared) strings."""
    rows = [["Nombre", "Ciudad", "Telefono"], ["Ana", "Cali", "3001234567"], ["Luis", "Pasto", 3109876543],
            ["Eva", "Neiva", "no tiene"]]
    path = raw_xlsx(tmp_path / "export_crm.xlsx", rows, dimension="A1", strings=strings)
    with zipfile.ZipFile(path) as zf:  # the file really is what such tools write
        assert '<dimension ref="A1"/>' in zf.read("xl/worksheets/sheet1.xml").decode()
        assert not [n for n in zf.namelist() if "styles" in n]

    phones = read_phone_numbers(path)

    assert phones.numbers == ["3001234567", "3109876543"]
    assert phones.source == "sheet 'export', column C ('Telefono', header in row 1)"
    assert phones.rejected == [RejectedRow(4, "no tiene", "not a phone number (7-15 digits)")]


def test_a_formula_is_read_by_the_value_saved_with_it_and_one_without_a_value_is_rejected_not_skipped(tmp_path):
    """Excel, LibreOffice and Google Sheets save each formula's value with it; a script (openpyxl,
    a CRM's export) may write the formula alone, which only a spreadsheet app can compute."""
    saved = raw_xlsx(tmp_path / "guardado.xlsx", [["Telefono"], [('"300"&"1234567"', "3001234567")], [("3109876543+0", 3109876543)],
                                                  [('IF(B4="","",B4)', "")]])  # a template's empty text result
    phones = read_phone_numbers(saved)
    assert phones.numbers == ["3001234567", "3109876543"] and phones.rejected == [] and phones.data_rows == 2

    wb = Workbook()
    for row in (["Telefono"], ["3001234567"], ['="300"&"7654321"'], [None], ["3009999999"]):
        wb.active.append(row)
    wb.save(tmp_path / "script.xlsx")
    phones = read_phone_numbers(tmp_path / "script.xlsx")
    assert phones.numbers == ["3001234567", "3009999999"]
    assert phones.rejected == [RejectedRow(3, '="300"&"7654321"', FORMULA_WITHOUT_VALUE)]
    assert phones.data_rows == 3  # the blank row 4 is not data; the formula's row is
    assert "open the file in Excel" in FORMULA_WITHOUT_VALUE


def test_a_script_export_without_header_or_dimension(tmp_path):
    path = raw_xlsx(tmp_path / "numeros.xlsx", [[3001234567], ["300 765 4321"]], dimension=None)
    assert read_phone_numbers(path).numbers == ["3001234567", "3007654321"]


def test_full_width_digits_are_normalised_and_other_digits_rejected_with_the_reason(tmp_path):
    """Numbers pasted from web pages: full-width digits become 0-9; digits NFKC cannot fold are
    refused row by row, and the reason reaches the results' rejected sheet."""
    rows = [["Teléfono"], ["５５１２３４５６７８"], ["＋５７ ３００－１２３－４５６７"], ["٣٠٠١٢٣٤٥٦٧"]]
    path = raw_xlsx(tmp_path / "pegado.xlsx", rows, strings="shared", dimension="A1:A4")

    phones = read_phone_numbers(path)

    assert phones.numbers == ["5512345678", "+573001234567"]
    assert all(n.isascii() for n in phones.numbers)
    assert phones.rejected == [RejectedRow(4, "٣٠٠١٢٣٤٥٦٧", NOT_ASCII_DIGITS)]
    out = write_results(tmp_path / "out.xlsx", [], phones.rejected)
    rejected_sheet = [[c.value for c in row] for row in load_workbook(out)["rejected"].iter_rows()]
    assert rejected_sheet[1] == [4, "٣٠٠١٢٣٤٥٦٧", NOT_ASCII_DIGITS]


def test_full_width_header_is_found(tmp_path):
    path = raw_xlsx(tmp_path / "h.xlsx", [["Ｎｏｍｂｒｅ", "ＴＥＬＥＦＯＮＯ"], ["Ana", "3001234567"]])
    assert read_phone_numbers(path).column_index == 1


def test_a_stray_cell_far_to_the_right_does_not_widen_the_read(tmp_path):
    rows = [["phone"], ["3001234567"]] + [[None] * 16383 + ["x"]] + [["3001112222"]]
    path = raw_xlsx(tmp_path / "ancho.xlsx", rows)
    assert read_phone_numbers(path).numbers == ["3001234567", "3001112222"]


def test_a_zip_bomb_is_refused_from_the_central_directory(tmp_path, monkeypatch):
    """~130 KB that unpacks to 128 MB of sheet XML: refused before openpyxl opens it (the
    benchmark times a 1 GB one: make bench-pages)."""
    import openpyxl

    path = raw_xlsx(tmp_path / "bomba.xlsx", [["phone"], ["3001234567"]], sheet_xml_padding=128 << 20)
    assert path.stat().st_size < 1 << 20

    def never(*args, **kwargs):
        raise AssertionError("openpyxl was asked to parse a zip bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    with pytest.raises(BadWorkbook, match=r"bomba.xlsx: the workbook unpacks to 128 MB, more than 100 MB"):
        read_phone_numbers(path)


def test_too_many_cells_are_refused_before_parsing(tmp_path, monkeypatch):
    from callcentre.scraping import workbook

    rows = [["phone", "a", "b"]] + [[f"3{n:09d}", n, n] for n in range(400)]
    path = raw_xlsx(tmp_path / "celdas.xlsx", rows)
    assert len(read_phone_numbers(path).numbers) == 400  # 1,203 cells: under the real cap
    monkeypatch.setattr(workbook, "MAX_CELLS", 1200)
    with pytest.raises(BadWorkbook, match="more than 1,200 cells"):
        read_phone_numbers(path)


def test_a_strict_open_xml_workbook_is_refused_with_how_to_save_it(tmp_path):
    """Excel's "Strict Open XML Spreadsheet" is also .xlsx; openpyxl finds no sheet in it."""
    path = raw_xlsx(tmp_path / "lista_estricta.xlsx", [["Telefono"], ["3001234567"]], strict=True)
    with pytest.raises(BadWorkbook) as refused:
        read_phone_numbers(path)
    assert str(refused.value) == (
        "lista_estricta.xlsx: saved as Strict Open XML Spreadsheet, which cannot be read; "
        "save it as Excel Workbook (.xlsx)")


def test_a_workbook_without_sheets_is_named_in_the_error(tmp_path):
    path = raw_xlsx(tmp_path / "vacio.xlsx", [["Telefono"]], sheets=False)
    with pytest.raises(BadWorkbook, match=r"^vacio\.xlsx: the workbook has no sheets$"):
        read_phone_numbers(path)
