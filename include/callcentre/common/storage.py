"""Where scraping uploads and results live: one storage root every worker can open.

Airflow's ``ObjectStoragePath``: a ``file://`` folder (one machine, or a share mounted at the same
path everywhere) or ``s3://<conn_id>@bucket/prefix``, ``gs://...`` (a worker on another host cannot
read a local folder). Variable ``storage_base`` moves everything (``<base>/uploads``,
``<base>/results``); ``scraping_uploads_dir`` and ``scraping_results_dir`` override one folder each.
Values, and the locations stored in the job table, are URLs or plain local paths (read as ``file://``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from callcentre.common.variables import get_variable

BASE_VARIABLE = "storage_base"
LOCAL_PROTOCOLS = ("file", "local")


class StorageError(ValueError):
    """Storage not configured, or a location that leaves its folder: permanent, never retried."""


def as_storage(location: str | os.PathLike):
    """``location`` (URL or local path) as an ``ObjectStoragePath``."""
    from callcentre.common.compat import object_storage_path_type

    if isinstance(location, object_storage_path_type()):
        return location
    text = os.fspath(location)
    if "://" not in text:
        text = "file://" + str(Path(text).resolve())
    return object_storage_path_type()(text)


def folder(kind: str):
    """The storage folder of ``kind`` (``uploads`` or ``results``)."""
    own = get_variable(f"scraping_{kind}_dir")
    if own:
        return as_storage(own)
    base = get_variable(BASE_VARIABLE)
    if base:
        return as_storage(base) / kind
    raise StorageError(f"neither Airflow Variable {BASE_VARIABLE} nor scraping_{kind}_dir is set")


def local_path(location) -> Path | None:
    """The file-system path of a local location; None for object storage."""
    location = as_storage(location)
    return Path(location.path) if location.protocol in LOCAL_PROTOCOLS else None


def child(root, relative: str, kind: str):
    """``root / relative``, refusing any ``relative`` that would leave ``root``."""
    root = as_storage(root)
    local_root = local_path(root)
    if local_root is not None:  # symlinks and absolute paths inside the folder are fine locally
        root_path = local_root.resolve()
        candidate = (root_path / relative).resolve()
        if candidate == root_path or root_path in candidate.parents:
            return as_storage(candidate)
    elif not PurePosixPath(relative).is_absolute() and ".." not in PurePosixPath(relative).parts:
        return root / relative
    raise StorageError(f"{relative!r} is outside the {kind} folder")


@contextmanager
def _local_stand_in(location) -> Iterator[tuple[Path, bool]]:
    """(the file itself, True) when ``location`` is local; else (a temporary path, False)."""
    local = local_path(location)
    if local is not None:
        yield local, True
        return
    with tempfile.TemporaryDirectory(prefix="callcentre-") as tmp:
        yield Path(tmp) / as_storage(location).name, False


@contextmanager
def local_copy(location) -> Iterator[Path]:
    """A local file holding ``location``'s content (the file itself when it is local)."""
    with _local_stand_in(location) as (path, is_original):
        if not is_original:
            with as_storage(location).open("rb") as src, path.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        yield path


@contextmanager
def local_target(location) -> Iterator[Path]:
    """A local path to write ``location``'s new content to, published when the block succeeds: the
    file itself when local (the writer replaces it atomically), else a temporary file uploaded in one
    PUT (atomic for readers)."""
    with _local_stand_in(location) as (path, is_original):
        yield path
        if not is_original:
            put_file(path, location)


def put_file(source: Path, target) -> None:
    """Copy the local file ``source`` to ``target`` (any storage)."""
    target = as_storage(target)
    with source.open("rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst)


def url(location) -> str:
    """What to store in a table: the plain path of a local file (what the web app opens), else
    the URL (``s3://…``); :func:`as_storage` reads both back."""
    local = local_path(location)
    return str(local) if local is not None else str(as_storage(location))
