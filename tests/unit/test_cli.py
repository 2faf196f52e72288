"""The command line teaches: every sub-command has help, and the README covers it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from csv2pg.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ["init", "build", "resume", "plan", "status", "prune", "analyze", "explain", "validate", "import", "clean", "db"]


def test_every_command_has_help_and_readme_coverage() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(COMMANDS)  # type: ignore[arg-type]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, command in sub.choices.items():  # type: ignore[union-attr]
        assert len(command.description or "") > 40, name
        assert f"`csv2pg {name}" in readme, name


@pytest.mark.parametrize("command", COMMANDS)
def test_help_exits_zero(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert "usage: csv2pg" in capsys.readouterr().out


def test_python_dash_m_runs_the_same_program() -> None:
    done = subprocess.run([sys.executable, "-m", "csv2pg", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert "Turn a repository of CSV files into well-typed PostgreSQL tables" in done.stdout


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(tmp_path / "nope"), "status"]) == 2
    assert main(["-C", str(tmp_path), "status"]) == 2
    err = capsys.readouterr().err
    assert "no csv2pg.toml in" in err and "csv2pg init" in err
    with pytest.raises(SystemExit) as exited:
        main(["frobnicate"])
    assert exited.value.code == 2
