"""The built wheel carries schemas/ and templates/: installed in a fresh virtualenv, it works."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is needed to build the wheel")
def test_wheel_in_a_fresh_virtualenv_runs_analyze(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(["uv", "build", "--wheel", "--out-dir", str(dist), str(REPO)], check=True,
                   capture_output=True)
    wheel = next(dist.glob("csv2pg-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # Install with the dependencies this interpreter already has, so the test needs no network.
    site = next(p for p in sys.path if p.endswith("site-packages"))
    (next((env_dir / "lib").glob("python*")) / "site-packages" / "deps.pth").write_text(site + "\n")
    subprocess.run(["uv", "pip", "install", "--python", str(python), "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    csv = tmp_path / "people.csv"
    csv.write_text("id,name,born\n1,Ana,1990-01-02\n2,Bo,1985-12-31\n", encoding="utf-8")
    done = subprocess.run([str(env_dir / "bin" / "csv2pg"), "analyze", str(csv), "--format", "json"],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"type": "date"' in done.stdout
    location = subprocess.run([str(python), "-c", "import csv2pg.resources as r; print(r.schemas_dir(), r.templates_dir())"],
                              capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert str(env_dir) in location and "_data" in location  # from the wheel, not the checkout
    # The compiled scanner's source ships too and builds from the installed package.
    built = subprocess.run(
        [str(python), "-c", "from csv2pg import fastscan; print(fastscan.library() is not None, fastscan.SOURCE_DIR)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": str(tmp_path / "cache")}).stdout.split()
    assert built[0] == "True" and str(env_dir) in built[1]
    assert list((tmp_path / "cache" / "csv2pg").glob("fastscan-*.so"))
