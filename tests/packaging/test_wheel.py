"""The installed package works without a checkout (defect 10: a wheel or ``pip install .``
could not find the bundled standard and silently loaded no expectation suites).

The wheel is built from the tracked files only (copied out of the checkout, so nothing
untracked or generated sneaks in) and installed with ``--no-deps`` into a fresh venv in a
temporary folder. The venv gets the already installed third-party dependencies through a
``.pth`` *path* entry: ``.pth`` files inside that folder are not processed, so the
development venv's editable finder (which maps ``hrss_hub`` to the checkout) is not active,
and the test asserts that every hrss-hub module and data file comes from the new venv.
Then, from a folder outside the checkout: ``hrss-hub standard check`` and a 50-person
``hrss-hub demo`` that must match its answer key with every suite loaded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tracked_copy(dest: Path) -> Path:
    """The files git tracks (a data file someone forgot to add would be missing from the
    wheel, as from a release); outside a git checkout, the folders the build reads."""
    try:
        listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                                 check=True).stdout.decode()
        files = [name for name in listing.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        files = [p.relative_to(ROOT).as_posix()
                 for top in ("src", "standards", "expectations", "supervision")
                 for p in (ROOT / top).rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p)]
        files += ["pyproject.toml", "setup.py", "README.md"]
    for name in files:
        src = ROOT / name
        if src.is_file():  # (a file deleted in the working tree is not shipped)
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 300
         ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stdout + done.stderr
    return done


@pytest.mark.slow
def test_the_wheel_runs_standard_check_and_the_demo_without_a_checkout(
        tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HRSS_HUB_", "PYTHON"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    source = _tracked_copy(tmp_path / "source")
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", str(dist), str(source)], tmp_path, env)
    (wheel,) = dist.glob("hrss_hub-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    py = venv / "bin" / "python"
    purelib = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                         "['purelib'])"], tmp_path, env).stdout.strip())
    # the dependencies already installed here, as a plain path (its .pth files stay inert)
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n",
                                      encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps",
          "--no-index", "-q", str(wheel)], tmp_path, env)

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([str(py), "-c", (
        "import hrss_hub, json\n"
        "from hrss_hub.config import bundled_expectations_dir, shipped_standards_dir\n"
        "from hrss_hub.quality.suites import default_dir, load_suites\n"
        "from hrss_hub.standard.model import load_standard\n"
        "suites = load_suites(default_dir(None), load_standard())\n"
        "print(json.dumps([hrss_hub.__file__, str(shipped_standards_dir()),\n"
        "                  str(bundled_expectations_dir()),\n"
        "                  sorted((e, len(s)) for e, s in suites.items())]))\n")],
        work, env)
    module, standards, expectations, suites = json.loads(where.stdout)
    for path in (module, standards, expectations):
        assert Path(path).is_relative_to(purelib), path  # from the installed wheel
        assert not Path(path).is_relative_to(ROOT), path  # never from the checkout
    from hrss_hub.quality.suites import load_suites
    from hrss_hub.standard.model import load_standard

    standard = load_standard(ROOT / "standards")
    in_checkout = load_suites(ROOT / "expectations", standard)
    assert dict(suites) == {e: len(s) for e, s in in_checkout.items()}  # every suite shipped

    hub = str(venv / "bin" / "hrss-hub")
    check = _run([hub, "standard", "check"], work, env)
    assert f"standard v{standard.version}: OK ({len(standard.entities)} entities" \
        in check.stdout

    demo = _run([hub, "demo", "--dir", "demo", "--persons", "50", "--quiet"], work, env,
                timeout=600)
    assert re.search(r"answer key \S+: all counts match", demo.stdout), demo.stdout[-2000:]
    validations = sorted((work / "demo" / "reports").glob("*/validation/*.json"))
    assert validations
    for path in validations:  # every stream was validated against the bundled suites
        assert json.loads(path.read_text(encoding="utf-8"))["expectations"], path.name
