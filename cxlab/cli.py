"""The ``cxlab`` command line.

Each subcommand is one small function registered with :func:`command`; it receives the
argparse subparser to fill and returns the function that runs it (``args -> exit code``).
To add one (e.g. ``cxlab study``), write::

    @command("study", help="run a driver study from a YAML config",
             epilog="examples:\\n  cxlab study --config study.yaml")
    def _study(parser):
        parser.add_argument("--config", required=True)
        def run(args):
            ...
            return 0
        return run
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

Runner = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[dict, Callable[[argparse.ArgumentParser], Runner]]] = {}

EPILOG = """\
examples:
  cxlab report quarterly                       company + every region, latest quarter
  cxlab report quarterly --period 2026Q2 --by plan
  cxlab report quarterly --data path/to/export_folder --out reports/
  cxlab report team_scorecard --by team        one scorecard per front-line team
  cxlab study --config study.yaml              driver study on your own survey export
  cxlab validate --config company.yaml         check your own company's tables
  cxlab report quarterly --config company.yaml --by region
  cxlab datasets                               list the bundled datasets

Reports land in reports/<period>/: open index.html. `cxlab <command> --help` says more.
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keep the epilog's line breaks (defaults are written into each help text)."""


def command(name: str, help: str, description: str | None = None, epilog: str | None = None):
    """Register a subcommand: the decorated function fills its parser and returns its runner."""
    def register(func: Callable[[argparse.ArgumentParser], Runner]):
        _COMMANDS[name] = ({"help": help, "description": description or help, "epilog": epilog},
                           func)
        return func
    return register


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``cxlab`` parser. Each subcommand's options are filled only for ``command`` (or for all
    when it is None): filling imports what the subcommand needs, so ``cxlab --help`` stays quick."""
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="cxlab", formatter_class=_Formatter, epilog=EPILOG,
        description="Customer-experience analytics: driver analysis linking CX scores to "
                    "retention and lifetime value, and parameterised reports for every segment.")
    parser.add_argument("--version", action="version", version=f"cxlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for name, (meta, fill) in _COMMANDS.items():
        p = sub.add_parser(name, help=meta["help"], description=meta["description"],
                           epilog=meta["epilog"], formatter_class=_Formatter)
        if command is None or command == name:
            p.set_defaults(_run=fill(p))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cxlab`` script; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((a for a in argv if a in _COMMANDS), None)
    parser = build_parser(chosen or "")
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    from .checks import CXDataError
    try:
        return int(args._run(args) or 0)
    except CXDataError as err:
        print(f"cxlab {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted: finished reports are kept; the manifest marks the rest.",
              file=sys.stderr)
        return 130


# ------------------------------------------------------------------------------------ report

REPORT_EPILOG = """\
examples:
  cxlab report quarterly
      company + every region for the latest quarter of the bundled company
  cxlab report quarterly --period 2026Q3 --by region --data kestrel --out reports/
  cxlab report quarterly --by plan --segments Basic,Premium --workers 2
  cxlab report quarterly --by none                  company report only
  cxlab report quarterly --param bootstrap=500      change a template parameter
  cxlab report team_scorecard --by team             one scorecard per front-line team
  cxlab report quarterly --config company.yaml --by REGION
      your own company: tables and column names mapped in company.yaml (--by takes the
      contract name or your column name)

Writes reports/<period>/: index.html (start here), one HTML per report (no code),
notebooks/*.ipynb (executed, for analysts) and manifest.json (parameters, data hash,
versions, timings, status per report). Segments below --min-base answers are suppressed;
a failing segment is marked and the rest go on.

exit codes: 0 every report published (or suppressed by design), 1 some report failed,
            2 bad arguments or data, 130 interrupted.
"""


def _param(text: str) -> tuple[str, object]:
    import ast
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--param needs name=value, got {text!r}")
    name, value = text.split("=", 1)
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value
    return name.strip(), parsed


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


@command("report", help="run a report template for the company and every segment",
         description="Run a parameterised report notebook (papermill) for the company and for "
                     "each value of a segment column, in parallel, and publish stakeholder HTML "
                     "with an index page and a manifest.", epilog=REPORT_EPILOG)
def _report(parser: argparse.ArgumentParser) -> Runner:
    from .report import parameters
    parser.add_argument("template", nargs="?", default="quarterly",
                        help=f"template name ({', '.join(parameters.TEMPLATES)}) or a notebook "
                             "path")
    parser.add_argument("--template", dest="template_opt", metavar="NAME",
                        help="same as the positional template (e.g. --template team_scorecard)")
    parser.add_argument("--period", help="quarter like 2026Q3 (default: latest wave in the data)")
    parser.add_argument("--by", help="segment column: one report per value (default: region for "
                                     "quarterly, team for team_scorecard; 'none' = company only)")
    parser.add_argument("--segments", help="comma-separated subset of segment values to run")
    parser.add_argument("--no-company", action="store_true", help="skip the company report")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", default="kestrel",
                        help="bundled dataset name, a folder like datasets/kestrel, or a survey file "
                             "(default: kestrel)")
    source.add_argument("--config", default=None, metavar="COMPANY.YAML",
                        help="company configuration mapping your own tables and column names "
                             "onto the data contract (see examples/README.md); checked before "
                             "any notebook starts. Replaces --data")
    parser.add_argument("--out", default="reports",
                        help="output folder; reports go to OUT/<period>/ (default: reports)")
    parser.add_argument("--workers", type=_positive, default=None,
                        help="parallel notebooks (default: the usable cores)")
    min_base = parameters.TEMPLATES["quarterly"].parameter("min_base").default
    parser.add_argument("--min-base", type=_positive, default=min_base,
                        help=f"minimum answers; smaller groups are suppressed (default: {min_base})")
    parser.add_argument("--param", action="append", type=_param, default=[], metavar="NAME=VALUE",
                        help="extra template parameter, repeatable (e.g. bootstrap=500)")
    parser.add_argument("--timeout", type=_positive, default=900,
                        help="seconds a single notebook cell may run (default: 900)")
    parser.add_argument("--pdf", action="store_true",
                        help="also print each report to PDF with headless Chromium")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def run(args: argparse.Namespace) -> int:
        from .report import runner
        template = args.template_opt or args.template
        segments = [s.strip() for s in args.segments.split(",")] if args.segments else None
        data = args.data
        if args.config:
            data = args.config
            if _print_validation(args.config, quiet=True):
                return 2
        batch = runner.run(template, period=args.period, by=args.by, data=data,
                            out=args.out, workers=args.workers, segments=segments,
                            params=dict(args.param), min_base=args.min_base,
                            company=not args.no_company, progress=not args.quiet,
                            timeout=args.timeout, pdf=args.pdf)
        print(batch)
        for entry in batch.reports:
            if entry["status"] != "ok":
                print(f"  {entry['name']}: {entry['status']} - {entry.get('error')}",
                      file=sys.stderr)
        return 0 if batch.ok else 1
    return run


# ---------------------------------------------------------------------------------- datasets

@command("datasets", help="list the bundled datasets",
         description="List the datasets shipped with cxlab (load them with "
                     "cx.datasets.load(name) or use --data NAME in `cxlab report`).",
         epilog="examples:\n  cxlab datasets\n  cxlab datasets kestrel     describe one dataset")
def _datasets(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("name", nargs="?", help="describe this dataset")

    def run(args: argparse.Namespace) -> int:
        from . import datasets
        if args.name:
            describe = getattr(datasets, "describe", None)
            print(describe(args.name) if callable(describe) else datasets.load(args.name))
            return 0
        for name in datasets.names():
            line = ""
            source = getattr(datasets, "source", None)
            if callable(source):
                try:
                    line = str(source(name)).strip().splitlines()[0].lstrip("# ").strip()
                except Exception:
                    line = ""
            print(f"{name:<18} {line}".rstrip())
        return 0
    return run


# ---------------------------------------------------------------------------------- validate

VALIDATE_EPILOG = """\
examples:
  cxlab validate --config examples/own_company/company.yaml
  cxlab validate --config company.yaml --out checks/     also write validation.txt and .csv

Reads every table the configuration names and checks it against the data contract: missing
columns (with the closest match), text in numeric columns, out-of-range ratings, unknown codes,
unparseable dates, duplicate ids, survey customers missing from the customer table. Rows left
out (no outcome, no wave) are counted.

exit codes: 0 no errors (warnings and notes may be listed), 2 errors found or bad configuration.
"""


def _print_validation(config: str, quiet: bool = False, out: str | None = None) -> bool:
    """Validate a company configuration; print the report (only errors when ``quiet``); True
    when it has errors."""
    from .company import validate_company
    report = validate_company(config)
    if out:
        from pathlib import Path
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "validation.txt").write_text(report.to_text() + "\n", encoding="utf-8")
        report.summary().to_csv(folder / "validation.csv", index=False)
    if not report.ok or not quiet:
        print(report.to_text(), file=sys.stderr if not report.ok else sys.stdout)
    return not report.ok


@command("validate", help="check a company configuration and its tables before any report",
         description="Check a company configuration (your tables mapped onto the data contract) "
                     "and every table it names; print every problem at once.",
         epilog=VALIDATE_EPILOG)
def _validate(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--config", required=True, metavar="COMPANY.YAML",
                        help="company configuration (YAML)")
    parser.add_argument("--out", default=None,
                        help="also write OUT/validation.txt and OUT/validation.csv")

    def run(args: argparse.Namespace) -> int:
        return 2 if _print_validation(args.config, out=args.out) else 0
    return run


# ---------------------------------------------------------------------------------- study

STUDY_EPILOG = """\
examples:
  cxlab study --config examples/study_kestrel.yaml --out reports/study_kestrel
  cxlab study --config my_study.yaml --validate-only       check the data, write the report
  cxlab study --config my_study.yaml --bootstrap 1000      more resamples for the intervals

The data are checked first. Errors (out-of-scale ratings, text in numeric columns, duplicate
ids, unknown columns, ...) stop the study: the report (OUT/validation.txt and .html) names the
column, the values, the rows and the fix. Warnings go into the study.
Writes OUT/index.html, OUT/driver_study.html (no code), OUT/driver_study.ipynb (executed),
OUT/validation.txt|html and OUT/manifest.json.

exit codes: 0 study written (or --validate-only and no errors), 1 the notebook failed,
            2 the configuration or the data failed the checks.
"""


@command("study", help="run a driver study on your own survey data from a YAML config",
         description="Check a survey export against a study configuration (stop with a readable "
                     "report on errors), then run the driver-study notebook: data quality, "
                     "outcome metrics, importance by every method with intervals, quadrant, "
                     "segments, retention link and value at stake.", epilog=STUDY_EPILOG)
def _study(parser: argparse.ArgumentParser) -> Runner:
    from .study import publish
    parser.add_argument("--config", required=True, help="study configuration (YAML)")
    parser.add_argument("--data", default=None,
                        help="survey file to use instead of the configuration's data:")
    parser.add_argument("--out", default=None,
                        help="output folder (default: reports/study_<config name>)")
    parser.add_argument("--bootstrap", type=int, default=None,
                        help="bootstrap resamples for the importance intervals (overrides the "
                             "configuration)")
    parser.add_argument("--validate-only", action="store_true",
                        help="only check the data and write the validation report")
    parser.add_argument("--chunksize", type=int, default=None,
                        help="validate the survey file in chunks of this many rows (bounded "
                             f"memory; automatic for files over {publish.LARGE_FILE_BYTES >> 20} "
                             "MB)")
    parser.add_argument("--timeout", type=int, default=3600,
                        help="seconds a notebook cell may run (default 3600)")

    def run(args: argparse.Namespace) -> int:
        return publish.write_study(args.config, out=args.out, data=args.data,
                                   bootstrap=args.bootstrap, validate_only=args.validate_only,
                                   chunksize=args.chunksize, timeout=args.timeout)
    return run


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
