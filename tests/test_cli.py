"""The `cxlab` command line: help that teaches, clear errors with exit code 2, exit code 1 when a
report failed, 0 when everything was published, and the subcommand registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from cxlab.report import runner as rp
from cxlab import cli


def test_help_teaches_with_examples(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "cxlab report quarterly" in out and "index.html" in out
    assert "report" in out and "datasets" in out


def test_report_help_lists_options_examples_and_exit_codes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["report", "--help"])
    out = capsys.readouterr().out
    for text in ("--period", "--by", "--data", "--out", "--workers", "--template", "--pdf",
                 "cxlab report team_scorecard --by team", "exit codes", "manifest.json"):
        assert text in out


def test_no_command_prints_help_and_returns_2(capsys):
    assert cli.main([]) == 2
    assert "usage: cxlab" in capsys.readouterr().out


def test_datasets_lists_the_bundled_company(capsys):
    assert cli.main(["datasets"]) == 0
    assert "kestrel" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["report", "quarterly", "--period", "2019Q1"], "not in the data"),
    (["report", "quarterly", "--by", "regoin"], "no such column"),
    (["report", "quarterly", "--segments", "Atlantis"], "Unknown region value(s) 'Atlantis'"),
    (["report", "quarterly", "--param", "bootstrapp=3"], "(did you mean 'bootstrap'?)"),
    (["report", "no_such_template"], "Unknown report template"),
    (["report", "quarterly", "--data", "missing_folder/"], "neither a bundled dataset"),
    (["report", "quarterly", "--by", "none", "--segments", "North"], "without a segment column"),
    (["report", "quarterly", "--by", "none", "--no-company"], "Nothing to run"),
    (["report", "quarterly", "--param", "bootstrap=-5"], "bootstrap must be between 0 and 100000"),
])
def test_bad_arguments_exit_2_with_a_message_not_a_traceback(argv, message, tmp_path, capsys):
    assert cli.main(argv + ["--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())                 # nothing half-made


def _tiny(tmp_path: Path) -> tuple[Path, Path]:
    nb = new_notebook(cells=[
        new_code_cell("data = 'x'\nperiod = None\nby = None\nsegment = None\nmin_base = 30",
                      metadata={"tags": ["parameters"]}),
        new_code_cell("if segment == 'Broken':\n    raise ValueError('injected')\nprint(segment)")])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    template = tmp_path / "tiny_quarterly.ipynb"
    nbformat.write(nb, template)
    (tmp_path / "data").mkdir()
    pd.DataFrame({"wave": "2026Q3", "region": ["Fine"] * 40 + ["Broken"] * 40,
                  "ltr": 9}).to_csv(tmp_path / "data" / "survey.csv", index=False)
    return template, tmp_path / "data"


def test_exit_code_says_whether_everything_succeeded(tmp_path, capsys):
    template, data = _tiny(tmp_path)
    common = [str(template), "--data", str(data), "--by", "region", "--workers", "1", "--quiet",
              "--out", str(tmp_path / "out")]
    assert cli.main(["report", *common, "--segments", "Fine"]) == 0
    assert cli.main(["report", *common]) == 1
    captured = capsys.readouterr()
    assert "1 failed" in captured.out and (f"region-{rp.slug('Broken')}: failed - ValueError: injected"
                                       in captured.err)
    assert (tmp_path / "out" / "2026Q3" / "index.html").exists()


def test_template_option_is_the_same_as_the_positional(tmp_path):
    parser = cli.build_parser()
    args = parser.parse_args(["report", "--template", "team_scorecard", "--by", "team"])
    assert args.template_opt == "team_scorecard" and args.by == "team"
    args = parser.parse_args(["report"])
    assert args.template == "quarterly" and args.by is None and args.data == "kestrel"


def test_a_subcommand_is_one_small_registered_function(capsys):
    @cli.command("hello", help="say hello", epilog="examples:\n  cxlab hello --name Ann")
    def _hello(parser):
        parser.add_argument("--name", default="world")
        return lambda args: print(f"hello {args.name}") or 0
    try:
        assert cli.main(["hello", "--name", "Ann"]) == 0
        assert capsys.readouterr().out == "hello Ann\n"
    finally:
        cli._COMMANDS.pop("hello")


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "cxlab"
    if not script.exists():
        pytest.skip(f"no cxlab console script beside {sys.executable} (package not installed)")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    import cxlab
    assert done.returncode == 0 and done.stdout.strip() == f"cxlab {cxlab.__version__}"


def test_ctrl_c_keeps_finished_reports_and_leaves_no_partial_files(tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while one report is
    still running: exit code 130, the finished report is published, the running one is marked
    interrupted, and no temporary, half-written or staging file or lock remains."""
    import os
    import signal
    import time
    script = Path(sys.executable).parent / "cxlab"
    if not script.exists():
        pytest.skip("no cxlab console script (package not installed)")
    nb = new_notebook(cells=[
        new_code_cell("data = 'x'\nperiod = None\nby = None\nsegment = None\nmin_base = 30",
                      metadata={"tags": ["parameters"]}),
        new_code_cell("import time\nif segment == 'Slow':\n    time.sleep(120)\nprint(segment)")])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nbformat.write(nb, tmp_path / "slow_quarterly.ipynb")
    (tmp_path / "data").mkdir()
    pd.DataFrame({"wave": "2026Q3", "region": ["Fast"] * 40 + ["Slow"] * 40,
                  "ltr": 9}).to_csv(tmp_path / "data" / "survey.csv", index=False)
    out = tmp_path / "out" / "2026Q3"
    proc = subprocess.Popen([str(script), "report", str(tmp_path / "slow_quarterly.ipynb"),
                             "--data", str(tmp_path / "data"), "--by", "region", "--no-company",
                             "--workers", "2", "--quiet", "--out", str(tmp_path / "out")],
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    fast = f"slow_quarterly-region-{rp.slug('Fast')}.html"     # staged until the batch ends
    while not list(out.parent.glob(f".2026Q3.staging-*/{fast}")) and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(1.0)                                   # the slow kernel is in its sleep cell
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    manifest = rp.read_manifest(out)["batches"][0]
    status = {r["segment"]: r["status"] for r in manifest["reports"]}
    assert manifest["status"] == "interrupted" and status == {"Fast": "ok", "Slow": "interrupted"}
    assert (out / fast).exists()
    assert not (out / f"slow_quarterly-region-{rp.slug('Slow')}.html").exists()
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith((".tmp", ".partial.ipynb"))]
    assert leftovers == []
    assert not list(out.parent.glob(".2026Q3.*"))              # no staging folder, no lock
    assert "interrupted" in (out / "index.html").read_text()
