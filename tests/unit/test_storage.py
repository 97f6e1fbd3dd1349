"""callcentre.common.storage: one storage root for uploads and results, local or object storage.

Object storage is exercised with fsspec's ``memory://`` file system: the same ObjectStoragePath
code paths as ``s3://`` (no local path, uploads by PUT), without a cloud account.
"""

from __future__ import annotations

import uuid

import pytest

from callcentre.common import storage


@pytest.fixture(scope="module", autouse=True)
def memory_store():
    """Register fsspec's in-memory file system with Airflow's store (as a provider registers s3)."""
    from fsspec.implementations.memory import MemoryFileSystem

    from callcentre.common.compat import IS_AIRFLOW_2

    if IS_AIRFLOW_2:
        from airflow.io.store import attach
    else:
        from airflow.sdk.io import attach
    attach("memory", fs=MemoryFileSystem())


def test_plain_path_and_file_url_are_the_same_location(tmp_path):
    (tmp_path / "a.xlsx").write_bytes(b"PK")
    as_path = storage.as_storage(str(tmp_path / "a.xlsx"))
    as_url = storage.as_storage(f"file://{tmp_path}/a.xlsx")
    assert as_path.read_bytes() == as_url.read_bytes() == b"PK"
    assert storage.url(as_url) == str(tmp_path / "a.xlsx")  # what the job table keeps for local files
    with storage.local_copy(storage.url(as_url)) as local:
        assert local == tmp_path / "a.xlsx"  # no copy for a local file


def test_one_setting_places_both_folders(monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_VAR_SCRAPING_UPLOADS_DIR", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_SCRAPING_RESULTS_DIR", raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_STORAGE_BASE", f"file://{tmp_path}")
    assert storage.local_path(storage.folder("uploads")) == tmp_path / "uploads"
    assert storage.local_path(storage.folder("results")) == tmp_path / "results"
    monkeypatch.setenv("AIRFLOW_VAR_SCRAPING_RESULTS_DIR", str(tmp_path / "elsewhere"))
    assert storage.local_path(storage.folder("results")) == tmp_path / "elsewhere"
    monkeypatch.delenv("AIRFLOW_VAR_STORAGE_BASE")
    with pytest.raises(storage.StorageError, match="storage_base nor scraping_uploads_dir is set"):
        storage.folder("uploads")


@pytest.mark.parametrize("base", ["local", "memory"])
def test_child_stays_inside_its_folder(tmp_path, base):
    root = storage.as_storage(tmp_path if base == "local" else f"memory://bucket-{uuid.uuid4().hex}/uploads")
    assert storage.child(root, "abc__a.xlsx", "uploads").name == "abc__a.xlsx"
    for escape in ("../x.xlsx", "/etc/passwd", "a/../../x.xlsx"):
        with pytest.raises(storage.StorageError, match="outside the uploads folder"):
            storage.child(root, escape, "uploads")


def test_object_storage_round_trip_through_local_files(tmp_path):
    from callcentre.scraping.upload import store_upload

    base = storage.as_storage(f"memory://bucket-{uuid.uuid4().hex}")
    source = tmp_path / "lista clientes.xlsx"
    source.write_bytes(b"PK\x03\x04 workbook bytes")
    stored = store_upload(source, base / "uploads")
    assert storage.local_path(stored.path) is None
    assert stored.path.read_bytes() == source.read_bytes()
    with storage.local_copy(storage.url(stored.path)) as local:  # what a worker on another host reads
        assert local.read_bytes() == source.read_bytes() and local != source

    results = base / "results" / "job000001_lista_results.xlsx"
    with storage.local_target(results) as local:
        local.write_bytes(b"results")
        assert not results.exists()  # published only when the writer succeeded
    assert storage.as_storage(storage.url(results)).read_bytes() == b"results"
