#!/usr/bin/env python
"""Upload a workbook: store it in the uploads folder and trigger one run of DAG scraping_upload.

The Airflow API: --api-url (default $AIRFLOW__API__BASE_URL), the user from connection airflow_api,
else $AIRFLOW_API_USERNAME/$AIRFLOW_API_PASSWORD, else the local SimpleAuthManager password. The
same file again reports the existing run, no second job. Uploads folder: callcentre.common.storage.
Exit status: 0 triggered or already triggered, 1 refused, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--uploader", required=True)
    parser.add_argument("--api-url", default=os.environ.get("AIRFLOW__API__BASE_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--timeout-minutes", type=float)
    parser.add_argument("--max-retries", type=int)
    parser.add_argument("--batch-size", type=int)
    args = parser.parse_args(argv)

    from callcentre.common import storage
    from callcentre.scraping.upload import TriggerError, airflow_client, store_upload

    if not os.path.isfile(args.file):
        print(f"error: {args.file} is not a file", file=sys.stderr)
        return 2
    try:
        uploads_dir = storage.folder("uploads")
    except storage.StorageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    overrides = {key: getattr(args, key) for key in ("timeout_minutes", "max_retries", "batch_size")
                 if getattr(args, key) is not None}
    try:
        client = airflow_client(args.api_url)
        upload = store_upload(args.file, uploads_dir)
        result = client.trigger_upload(upload, args.uploader, overrides)
    except TriggerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if result.created:
        print(f"triggered run {result.run_id} for {os.path.basename(args.file)} (state {result.state})")
    else:
        print(f"already triggered: run {result.run_id} exists (state {result.state}); no new job created")
    return 0


if __name__ == "__main__":
    sys.exit(main())
