"""What the page lets into the uploads folder and out of the results folder: an upload is refused
here with the pipeline's own message when the pipeline would refuse it, and stored only then."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath

from callcentre.scraping.notify import BadNotifyConf, recipient
from callcentre.scraping.upload import shorten_name
from callcentre.scraping.workbook import MAX_FILE_BYTES, BadWorkbook, read_phone_numbers

MAX_UPLOAD_BYTES = MAX_FILE_BYTES
_CHUNK = 1 << 16


class UploadRefused(ValueError):
    """The upload is not stored; the message tells the uploader why (``status`` for HTTP)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def client_file_name(raw: str | None) -> str:
    """The last path component of the name the browser sent (``C:\\x\\a.xlsx``, ``../a.xlsx`` -> ``a.xlsx``)."""
    name = PureWindowsPath(PurePosixPath(raw or "").name).name.strip().replace("\x00", "")
    if not name or name in (".", ".."):
        raise UploadRefused("the upload has no file name")
    if not name.lower().endswith(".xlsx"):
        raise UploadRefused(f"{shorten_name(name, 120)}: not an .xlsx file; save it as Excel .xlsx")
    return shorten_name(name)


@contextmanager
def received_upload(stream, raw_name: str | None, max_bytes: int = MAX_UPLOAD_BYTES):
    """The path of ``stream`` copied to a private temporary file named like the upload (removed on
    exit); refused when not ``.xlsx``, over ``max_bytes``, empty, or not a workbook the pipeline reads."""
    name = client_file_name(raw_name)
    folder = Path(tempfile.mkdtemp(prefix="scraping-upload-"))
    try:
        path = folder / name
        size = 0
        with path.open("wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadRefused(f"{name}: larger than {max_bytes // (1024 * 1024)} MB", status=413)
                out.write(chunk)
        if size == 0:
            raise UploadRefused(f"{name}: the file is empty")
        try:
            read_phone_numbers(path, name=name)
        except BadWorkbook as err:
            raise UploadRefused(str(err)) from err
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


MAX_ADDRESS_CHARS = 254  # the longest address SMTP carries (RFC 5321 path limit)


def notify_conf(address: str | None, opt_out: str | None) -> dict:
    """The run conf telling ``scraping/notify.py`` whom to email: ``notify_email`` (checked by notify's
    own rule) and ``notify: false`` when the uploader opted out."""
    conf: dict = {}
    address = (address or "").strip()
    if address:
        if len(address) > MAX_ADDRESS_CHARS:
            raise UploadRefused(f"notify_email: longer than {MAX_ADDRESS_CHARS} characters")
        try:
            recipient({"notify_email": address})
        except BadNotifyConf as err:
            raise UploadRefused(f"notify_email: {shorten_name(address, 120)!r} is not one email address "
                                "(like name@example.com: no spaces, commas or quotes)") from err
        conf["notify_email"] = address
    if (opt_out or "").strip().lower() in ("1", "true", "on", "yes"):
        conf["notify"] = False
    return conf


def inside(folder: str | Path, candidate: str | Path) -> Path | None:
    """``candidate`` resolved, if it lies inside ``folder`` (symlinks followed), else None."""
    root = Path(folder).resolve()
    path = Path(candidate)
    resolved = (path if path.is_absolute() else root / path).resolve()
    return resolved if root in resolved.parents else None
