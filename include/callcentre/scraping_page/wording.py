"""What the page says to staff: job statuses and errors in plain words (the technical text stays
one click away on the page, and whole in the task log)."""

from __future__ import annotations

import re

STATUS_WORDS = {
    "pending": "Waiting to start",
    "processing": "In progress",
    "retrying": "Retrying",
    "completed": "Done",
    "failed": "Failed",
    "timeout": "Timed out",
}

# First match wins; {0}, {1}... are the pattern's groups. Checked against the raw error text.
_PLAIN = [
    (r"^marked as timeout by (.+?) \(was \w+\)", "Stopped by {0} (marked as timed out)."),
    (r"^retry (\d+) requested by (.+?);", "Retry {0} requested by {1}."),
    (r"worker lost|no failure callback ran", "Processing stopped unexpectedly (the Airflow worker was lost). Retry it."),
    (r"^retry refused by Airflow", "Airflow refused the retry. Try it again here, or tell the Airflow administrators."),
    (r"(?:after its|its) (\d+)-minute timeout|passed its timeout of ([\d.]+) minutes",
     "Took longer than the {0} minutes allowed."),
    (r"Airflow run no longer exists|DAG run not found", "Its Airflow run was deleted, so it cannot finish."),
    (r"(?:outside|not found in|missing from) the uploads folder|upload .* unreadable",
     "The uploaded file is no longer in the uploads folder. Upload it again."),
    (r"Variable \w+ .*is set|has no host", "Airflow is not fully set up for uploads: tell the Airflow administrators."),
    (r"^conf\.\w+=", "The run was started with a setting out of range. Upload the file again from this page."),
    (r"answered (\d+) of (\d+) numbers", "The lookup service answered only {0} of {1} numbers of part of the list. Retry it."),
    (r"succeeded but wrote no results file", "Finished, but no results workbook was written. Retry it."),
    (r"HTTP (?:401|403)\b", "The lookup service refused our credentials: tell the Airflow administrators."),
    (r"HTTP 429\b|throttled", "The lookup service was too busy and asked us to wait. Retry it later."),
    (r"HTTP 5\d\d\b|unreachable|ConnectionError|ConnectTimeout|ReadTimeout|non-JSON body",
     "The lookup service did not answer properly (it may be down). Retry it later."),
    (r"HTTP 4\d\d\b.*not retried", "The lookup service refused the list; it is not retried."),
    (r"could not process batch", "The lookup service could not process part of the list. Retry it."),
    (r"timed out|timeout", "Took too long and was stopped."),
]
_PLAIN = [(re.compile(pattern, re.IGNORECASE), words) for pattern, words in _PLAIN]


def plain_error(error: str | None, file_name: str = "") -> str:
    """One sentence a staff member understands, for a job's ``last_error``."""
    if not error:
        return ""
    for pattern, words in _PLAIN:
        match = pattern.search(error)
        if match:
            return words.format(*[g for g in match.groups() if g is not None])
    if file_name and error.startswith(f"{file_name}: "):
        # The workbook's own checks already speak to the uploader ("no phone column in sheet ...").
        return "Problem with the file: " + error[len(file_name) + 2:]
    return "Something went wrong; the details below tell the Airflow administrators what."
