"""The Dockerfile, checked without a container engine (none here; no image registry either).

* it extends the official image as the image's docs say: `apache-airflow==${AIRFLOW_VERSION}` in
  the same pip command as our requirements, under the image's own constraints (adapted by
  deploy/image/constraints.py: minus what requirements.txt pins), and runs `pip check`;
* compilers and headers live in the build stage only; the runtime stage installs from its wheels;
* .dockerignore keeps the virtualenvs, .local/, .env and the tests out of the build context;
* the runtime pip step, replayed in a clean virtualenv with the same inputs, installs and passes
  `pip check`. The base image's ${HOME}/constraints.txt cannot be fetched here: the replay uses
  constraints.txt (what `make test` runs with) in its place, adapted by the same script. What only
  a real build proves: the image's own constraints agree with our pins, and the apt packages.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
sys.path.insert(0, str(ROOT / "deploy" / "image"))
import constraints as image_constraints  # noqa: E402  (deploy/image/constraints.py)


def _stages() -> list[str]:
    return re.split(r"^FROM ", DOCKERFILE, flags=re.M)[1:]


def _runs(stage: str) -> list[str]:
    """The stage's RUN commands, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", stage)
    return [line[4:] for line in joined.splitlines() if line.startswith("RUN ")]


def _pip_install() -> list[str]:
    [command] = [c for c in _runs(_stages()[-1]) if "pip install" in c]
    words = shlex.split(command.split("pip install", 1)[1].split("&&")[0])
    return words


def test_extends_the_official_image_as_its_docs_say():
    version = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert f"ARG AIRFLOW_IMAGE=apache/airflow:{version}-python3.11" in DOCKERFILE
    assert all(s.startswith("${AIRFLOW_IMAGE}") for s in _stages())
    words = _pip_install()
    assert "apache-airflow==${AIRFLOW_VERSION}" in words  # Airflow pinned in the same command
    assert words[words.index("-r") + 1] == "/opt/airflow/requirements/requirements.txt"
    assert words[words.index("-c") + 1] == "/opt/airflow/requirements/constraints-image.txt"
    build_runs = " ".join(_runs(_stages()[0]))
    assert 'constraints.py "${HOME}/constraints.txt"' in build_runs  # the image's own constraints
    assert "pip check" in _runs(_stages()[-1])[-1]
    assert "ENV _PIP_ADDITIONAL_REQUIREMENTS" not in DOCKERFILE


def test_no_compiler_in_the_runtime_stage():
    build, runtime = _stages()
    assert "build-essential" in build and "libmariadb-dev" in build
    for package in ("build-essential", "gcc", "-dev", "pkg-config"):
        assert package not in " ".join(_runs(runtime)), package
    assert "--no-index" in _pip_install() and "--find-links" in _pip_install()  # wheels built upstream


def test_copied_paths_exist_and_the_context_is_lean():
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY") and "--from=" not in line:
            for source in [w for w in line.split()[1:-1] if not w.startswith("--")]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".git", ".venv", ".venv-af2", ".local", ".env", "tests", "bench", "**/__pycache__"):
        assert path in ignored, path
    for needed in ("requirements.txt", "dags", "include", "plugins", "deploy"):
        assert needed not in ignored


def test_adapting_drops_exactly_what_we_pin():
    adapted = image_constraints.adapt("apache-airflow==3.3.2\nOpenPyXL==3.0.0\nrich==13.0\n# c\n",
                                      ROOT / "requirements.txt")
    assert adapted == "rich==13.0\n# c\n"


def test_the_pip_step_installs_and_passes_pip_check(tmp_path):
    """The runtime stage's pip command, replayed: same requirements, Airflow pin, adapted constraints."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    adapted = tmp_path / "constraints-image.txt"
    adapted.write_text(image_constraints.adapt((ROOT / "constraints.txt").read_text(), ROOT / "requirements.txt"))
    version = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    paths = {"/opt/airflow/requirements/requirements.txt": str(ROOT / "requirements.txt"),
             "/opt/airflow/requirements/constraints-image.txt": str(adapted), "${AIRFLOW_VERSION}": version}
    words, skip = [], False
    for word in _pip_install():
        if skip:
            skip = False
            continue
        if word == "--find-links":  # the build stage's wheels: here, the package index
            skip = True
            continue
        if word != "--no-index":
            words.append(next((word.replace(k, v) for k, v in paths.items() if k in word), word))
    install = subprocess.run([*pip, "install", "-q", *words], capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    check = subprocess.run([*pip, "check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout
    frozen = subprocess.run([*pip, "freeze"], capture_output=True, text=True, check=True).stdout
    assert f"apache-airflow=={version}" in frozen.splitlines()
