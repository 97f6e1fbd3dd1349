"""Our own modules imported once by a parent that forks task processes, yet never stale.

``task_preload`` imports the modules our DAG files import (~12 ms of CPU per task instance
otherwise, measured on ivr_calls_daily). A forked child would inherit them as they were when the
scheduler (or Celery worker) started; a changed file under include/ must instead reach the next
task without a restart. So every forked child compares the preloaded modules' files with the disk
(one ``stat`` each, ~25 files) and, when any differs, drops all our modules: the task then imports
them anew, as it would without the preload.
"""

from __future__ import annotations

import importlib
import os
import sys

# The mechanism itself stays loaded: it is not what a task runs.
_KEEP = {__name__, "callcentre.common.task_preload"}


def _signature(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _own(prefix: str) -> dict[str, str]:
    """Module name -> source file of the loaded modules of package ``prefix``."""
    return {
        name: module.__file__
        for name, module in list(sys.modules.items())
        if (name == prefix or name.startswith(prefix + "."))
        and name not in _KEEP
        and getattr(module, "__file__", None)
    }


class FreshPreload:
    """Imports ``names`` now; in each forked child, drops package ``prefix``'s modules if any
    preloaded file has changed on disk since."""

    def __init__(self, names: tuple[str, ...], prefix: str = "callcentre") -> None:
        self.prefix = prefix
        for name in names:
            importlib.import_module(name)
        self.files = {path: _signature(path) for path in _own(prefix).values()}
        os.register_at_fork(after_in_child=self.check)

    def stale(self) -> bool:
        return any(_signature(path) != sig for path, sig in self.files.items())

    def check(self) -> None:
        if self.stale():
            for name in _own(self.prefix):
                del sys.modules[name]
            self.files = {}  # nothing preloaded is left in this process (nor in its own children)
