#!/usr/bin/env python3
"""The image's constraints, adapted: the base image's own constraints file (${HOME}/constraints.txt,
what Airflow was built and tested with) minus the packages requirements.txt pins itself, so pip
keeps every other dependency where the image has it and ours where we tested them. Standard
library only (it runs inside the image before anything is installed).

  python3 deploy/image/constraints.py IMAGE_CONSTRAINTS requirements.txt > adapted.txt
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def name_of(line: str) -> str | None:
    """The normalised distribution name a requirement or constraint line names (None: no name)."""
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("-"):
        return None
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
    return re.sub(r"[-_.]+", "-", match.group(0)).lower() if match else None


def pinned_here(requirements: Path) -> set[str]:
    names = set()
    for line in requirements.read_text().splitlines():
        if line.startswith("-r "):
            names |= pinned_here(requirements.parent / line[3:].strip())
        elif name := name_of(line):
            names.add(name)
    return names


def adapt(image_constraints: str, requirements: Path) -> str:
    ours = pinned_here(requirements)
    return "".join(line + "\n" for line in image_constraints.splitlines() if name_of(line) not in ours)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.stdout.write(adapt(Path(sys.argv[1]).read_text(), Path(sys.argv[2])))
