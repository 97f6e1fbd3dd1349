"""Fixtures of the scraping tests (import with ``from tests.scraping_fixtures import *``).

Everything is real: PostgreSQL from `make services`, the reference lookup API and the Slack
stand-in as HTTP servers on loopback, DAG runs through ``dag.test()`` on the real metadata DB.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from pathlib import Path

import pytest

# Retries and polls in seconds, not minutes (read when the DAG file is parsed).
FAST_DAG_ENV = {"SCRAPING_RETRY_DELAY_SECONDS": "1", "SCRAPING_POKE_SECONDS": "0.5"}
ROOT = Path(__file__).resolve().parents[1]


def random_numbers(count: int) -> list[str]:
    """Distinct made-up mobile numbers (every test file gets its own content hash)."""
    return [f"3{n:09d}" for n in random.sample(range(10**9), count)]


def make_workbook(path: Path, rows: list[list], header: list | None = ("Nombre", "Teléfono")) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    if header:
        ws.append(list(header))
    for row in rows:
        ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


@pytest.fixture
def scraping_dirs(tmp_path, monkeypatch):
    """Private uploads/results folders (Airflow Variables through the environment)."""
    uploads, results = tmp_path / "uploads", tmp_path / "results"
    uploads.mkdir()
    results.mkdir()
    monkeypatch.setenv("AIRFLOW_VAR_SCRAPING_UPLOADS_DIR", str(uploads))
    monkeypatch.setenv("AIRFLOW_VAR_SCRAPING_RESULTS_DIR", str(results))
    return uploads, results


@pytest.fixture
def scraping_api(monkeypatch):
    """A reference lookup API on a free port; connection ``scraping_api`` points at it."""
    from callcentre.fakes._server import serve_in_thread
    from callcentre.fakes.scraping_api_server import ScrapingApiServer

    token = secrets.token_hex(8)
    server = ScrapingApiServer(("127.0.0.1", 0), token=token)
    serve_in_thread(server)
    host, port = server.server_address[:2]
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCRAPING_API",
        json.dumps({"conn_type": "http", "host": host, "port": port, "schema": "http", "password": token}),
    )
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def job_repo():
    from callcentre.scraping.jobs import JobRepository

    repo = JobRepository()
    repo.migrate()
    return repo


@pytest.fixture(scope="session")
def scraping_dags():
    """The two DAGs, parsed from dags/ with fast retry/poll settings."""
    saved = {k: os.environ.get(k) for k in FAST_DAG_ENV}
    os.environ.update(FAST_DAG_ENV)
    try:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(str(ROOT / "dags"))
        errors = {k: v for k, v in bag.import_errors.items() if "scraping" in k}
        assert not errors, errors
        yield {"upload": bag.get_dag("scraping_upload"), "reconcile": bag.get_dag("scraping_jobs_reconcile")}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def run_upload(scraping_dags, scraping_dirs, job_repo):
    """Store a workbook in the uploads folder and run ``scraping_upload`` on it; return (run, job).

    Every optional param is passed (None = the default): dag.test() runs tasks in this process on
    the same DAG object, and a run's conf otherwise lingers in the tasks' params for the next run.
    """
    uploads, _ = scraping_dirs

    def run(path: Path, uploader: str = "ana", **conf):
        from callcentre.scraping.upload import store_upload

        stored = store_upload(path, uploads)
        run_conf = {"timeout_minutes": None, "max_retries": None, "batch_size": None, **conf}
        dag_run = scraping_dags["upload"].test(
            run_conf={"file": stored.relative_path, "uploader": uploader, **run_conf}
        )
        return dag_run, job_repo.by_run("scraping_upload", dag_run.run_id)

    return run


def raw_xlsx(path: Path, rows: list[list], *, dimension: str | None = "A1", strings: str = "inline",
             sheet_xml_padding: int = 0, strict: bool = False, sheets: bool = True) -> Path:
    """A workbook written part by part with zipfile, the way CRMs and scripts write them (not Excel):
    no styles part, a sheet-dimension record that says ``dimension`` whatever the sheet holds
    (None: no record), text as inline strings (``strings="inline"``) or in a shared-strings part
    (``"shared"``), numbers as numeric cells, a ``(formula, saved value or None)`` pair as a formula cell. ``sheet_xml_padding`` bytes of whitespace go into the
    sheet part (compressed to almost nothing: a zip bomb). ``strict``: the namespaces and the
    conformance attribute of Excel's "Strict Open XML Spreadsheet"; ``sheets=False``: a workbook
    part that lists no sheet."""
    import zipfile
    from xml.sax.saxutils import escape

    from openpyxl.utils import get_column_letter

    shared: list[str] = []
    body = []
    for r, row in enumerate(rows, 1):
        cells = []
        for c, value in enumerate(row, 1):
            ref = f"{get_column_letter(c)}{r}"
            if value is None:
                continue
            if isinstance(value, tuple):  # (formula, the value saved with it or None), as a spreadsheet app writes it
                formula, saved = value
                kept = "" if saved is None else f"<v>{escape(str(saved))}</v>"
                kind = "" if isinstance(saved, (int, float)) else ' t="str"'
                cells.append(f'<c r="{ref}"{kind}><f>{escape(formula)}</f>{kept}</c>')
            elif isinstance(value, (int, float)):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            elif strings == "shared":
                shared.append(str(value))
                cells.append(f'<c r="{ref}" t="s"><v>{len(shared) - 1}</v></c>')
            else:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>')
        body.append(f'<row r="{r}">{"".join(cells)}</row>')
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    conformance = ""
    if strict:
        main, rel = "http://purl.oclc.org/ooxml/spreadsheetml/main", "http://purl.oclc.org/ooxml/officeDocument/relationships"
        conformance = ' conformance="strict"'
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{main}">{dim}<sheetData>'
             + "".join(body) + "</sheetData></worksheet>")
    overrides = ('<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                 'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType='
                 '"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
    rels = f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
    if shared:
        overrides += ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                      'officedocument.spreadsheetml.sharedStrings+xml"/>')
        rels += f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                    'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
                    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/'
                    f'xml"/>{overrides}</Types>')
        zf.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
                    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
                    f'{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        listed = '<sheet name="export" sheetId="1" r:id="rId1"/>' if sheets else ""
        zf.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" '
                    f'xmlns:r="{rel}"{conformance}><sheets>{listed}</sheets></workbook>')
        zf.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns='
                    f'"http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>')
        if sheet_xml_padding:
            head, tail = sheet.split("<sheetData>")
            with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
                part.write(head.encode() + b"<sheetData>")
                block = b" " * (1 << 20)
                for _ in range(sheet_xml_padding // len(block)):
                    part.write(block)
                part.write(tail.encode())
        else:
            zf.writestr("xl/worksheets/sheet1.xml", sheet)
        if shared:
            items = "".join(f"<si><t>{escape(s)}</t></si>" for s in shared)
            zf.writestr("xl/sharedStrings.xml", f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{main}" '
                        f'count="{len(shared)}" uniqueCount="{len(shared)}">{items}</sst>')
    return path
