"""Our modules preloaded by the parent of the task processes (callcentre.common.fresh_preload):
a task reuses them while their files are unchanged and imports them anew once one changed,
without restarting that parent. Real forks, in a Python process of its own (an at-fork hook
cannot be unregistered from the test process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

INCLUDE = Path(__file__).resolve().parents[2] / "include"

# The parent preloads fpdemo.b (which imports fpdemo.a), like task_preload in the forkserver; then
# "worker" (forked at once, like a LocalExecutor worker or a Celery pool process) and the parent
# fork "task" children, each reporting what fpdemo.b.value() gives and whether it is the
# preloaded module object. Commands come on stdin, one per line.
DRIVER = textwrap.dedent(
    """
    import json, os, sys
    from callcentre.common.fresh_preload import FreshPreload

    FreshPreload(("fpdemo.b",), prefix="fpdemo")
    preloaded = sys.modules["fpdemo.b"]

    def task():
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            import fpdemo.b
            os.write(w, json.dumps([fpdemo.b.value(), fpdemo.b is preloaded]).encode())
            os._exit(0)
        os.waitpid(pid, 0)
        return json.loads(os.read(r, 4096))

    cmd_r, cmd_w = os.pipe()
    out_r, out_w = os.pipe()
    if os.fork() == 0:  # the worker: forks a task for each byte it reads
        while os.read(cmd_r, 1):
            os.write(out_w, (json.dumps(task()) + "\\n").encode())
        os._exit(0)
    worker_out = os.fdopen(out_r)
    for line in sys.stdin:
        if line.strip() == "task":
            print(json.dumps(task()), flush=True)
        elif line.strip() == "worker-task":
            os.write(cmd_w, b"x")
            print(worker_out.readline().strip(), flush=True)
    """
)


def test_preloaded_modules_are_reused_until_a_file_changes(tmp_path):
    pkg = tmp_path / "fpdemo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("VALUE = 1\n")
    (pkg / "b.py").write_text("from fpdemo.a import VALUE\n\ndef value():\n    return VALUE\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(INCLUDE)]), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )

    def ask(cmd):
        proc.stdin.write(cmd + "\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    try:
        assert ask("task") == [1, True]  # unchanged: the preloaded module itself
        assert ask("worker-task") == [1, True]

        # A dependency of the preloaded module changes (as a deploy of include/ would).
        a = pkg / "a.py"
        a.write_text("VALUE = 22\n")
        st = a.stat()
        os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

        assert ask("task") == [22, False]  # imported anew, dependents too
        assert ask("worker-task") == [22, False]  # a worker forked before the change: its tasks too
        assert ask("task") == [22, False]  # and again: the parent keeps its old copy, never reused
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert proc.returncode == 0
