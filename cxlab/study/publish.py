"""``cxlab study`` without the argument parsing: validate the data, write the validation report,
run the driver-study template through the report runner's public API and write a manifest and
an index page into the output folder.

    status = cx.study.write_study("study.yaml", out="reports/my_study")   # 0, 1 or 2
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from .. import report, resources
from ..contract import files_sha256
from .loading import data_file, load_data, source_label
from .schema import load_schema
from .validation import ValidationReport, validate, validate_file

#: The template notebook the study runs (found in the checkout or the installed package).
TEMPLATE = "driver_study.ipynb"
#: Files larger than this are validated chunk by chunk (bounded memory) before the study runs.
LARGE_FILE_BYTES = 200 * 1024 ** 2


def _validation_page(report_: ValidationReport, title: str) -> str:
    """The data check as stakeholders may see it: counts per finding, never the values, ids or
    row numbers the messages quote (those stay in the analyst's validation.txt)."""
    from ..display import escape
    from .sections import issue_counts
    tab = issue_counts(report_)
    body = (f"<p><b>{escape(report_.title)}</b>: {report_.n_rows:,} rows checked, "
            f"{report_.usable_rows:,} usable; {len(report_.errors)} error(s), "
            f"{len(report_.warnings)} warning(s).</p>"
            + tab.to_html(index=False, border=0, escape=True, classes="cx-table")
            + '<p class="cx-note">Counts only: the values and row numbers behind each finding '
              "are in the analyst's validation.txt.</p>")
    return report.page(f"Data check: {title}", f'<div class="cx-page">{body}</div>',
                       subtitle="cxlab study validation", back="index.html")


#: Files of the study notebook: removed from the folder whenever this run did not publish them.
STUDY_FILES = ("driver_study.html", "driver_study.ipynb")


def write_study(config: str | Path, out: str | Path | None = None, data: str | Path | None = None,
                bootstrap: int | None = None, validate_only: bool = False,
                chunksize: int | None = None, timeout: int = 3600) -> int:
    """Check the data against the configuration, then run the study notebook; return the exit
    code of ``cxlab study`` (0 written or validated, 1 the notebook failed, 2 invalid data).

    Writes OUT/validation.txt|html, OUT/manifest.json, OUT/index.html and, unless
    ``validate_only`` or the data have errors, OUT/driver_study.ipynb|html. The folder is
    published as a whole (:class:`cxlab.report.Publication`: locked, staged, committed), so a
    failed or killed run leaves the previous study as it was, and a study page is never left
    beside a manifest that does not describe it (an invalid rerun removes it). Absolute paths
    go to ``OUT.analyst.json`` beside the folder, not into the manifest.
    """
    from .. import __version__
    t0 = time.perf_counter()
    config = Path(config).resolve()
    data_override = str(Path(data).resolve()) if data else None
    schema = load_schema(config, bootstrap=bootstrap, data=data_override)
    out = Path(out) if out else Path("reports") / f"study_{report.slug(config.stem)}"
    out = report.check_output_folder(out)           # before any work: a clear error with the fix
    path = data_file(schema)
    big = path is not None and path.exists() and path.stat().st_size > LARGE_FILE_BYTES
    if chunksize or big:
        checked = validate_file(schema, path, chunksize=chunksize or 200_000)
    else:
        frame, customers = load_data(schema)
        checked = validate(schema, frame, customers)
    print(checked.to_text())
    manifest = {"title": schema.title, "config": config.name, "cxlab_version": __version__,
                "data_file": path.name if path else None,
                "data_sha256": files_sha256([path]) if path and path.exists() else None,
                "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "errors": len(checked.errors), "warnings": len(checked.warnings),
                "rows": checked.n_rows, "usable_rows": checked.usable_rows}
    analyst = {"folder": str(out), "config": str(config), "data_file": str(path) if path else None}
    status, files = 0, ["validation.txt", "validation.html"]
    with report.Publication(out) as pub:
        report.atomic_write(pub.staging / "validation.txt", checked.to_text() + "\n")
        report.atomic_write(pub.staging / "validation.html",
                            _validation_page(checked, schema.title))
        if checked.errors:
            print(f"\nThe study stops: fix the {len(checked.errors)} error(s) above (also in "
                  f"{out / 'validation.txt'}).")
            manifest["status"] = "invalid"
            status = 2
        elif validate_only:
            manifest["status"] = "validated"
        else:
            entry = report.run_notebook(
                resources.template(TEMPLATE), pub.staging, "driver_study",
                parameters={"config": str(config), "bootstrap": bootstrap,
                            "data": data_override, "progress": False},
                cwd=config.parent, timeout=timeout, title=schema.title,
                subtitle="Driver study · data " + (path.name if path else source_label(schema)),
                footer=f"cxlab {__version__} · config {config.name}")
            manifest.update(status=entry["status"], error=entry.get("error"),
                            notebook_seconds=entry.get("seconds"))
            files += [f for f in STUDY_FILES if (pub.staging / f).exists()]
            if entry["status"] == "ok":
                print(f"\nStudy written: {out / 'driver_study.html'}")
            else:
                print(f"\nThe study notebook failed: {entry.get('error')}. The executed "
                      f"notebook ({out / 'driver_study.ipynb'}) shows where.")
                status = 1
                if (pub.staging / "driver_study.html").exists():
                    files.remove("driver_study.html")
        manifest["seconds"] = round(time.perf_counter() - t0, 2)
        links = [("validation.html", "Data check")] + (
            [("driver_study.html", "Driver study")] if manifest.get("status") == "ok" else [])
        body = "".join(f'<div class="card"><h3><a href="{h}">{t}</a></h3></div>'
                       for h, t in links)
        pub.commit(files, [f for f in STUDY_FILES if f not in files],
                   {"manifest.json": json.dumps(manifest, indent=2, default=str) + "\n",
                    "index.html": report.page(schema.title, f'<div class="cards">{body}</div>',
                                              subtitle="cxlab study")},
                   analyst=(out.parent / f"{out.name}.analyst.json",
                            json.dumps(analyst, indent=2) + "\n"))
    return status
