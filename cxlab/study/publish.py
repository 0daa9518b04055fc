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
    return report.page(f"Data check: {title}", f'<div class="cx-page">{report_.to_html()}</div>',
                       subtitle="cxlab study validation", back="index.html")


def write_study(config: str | Path, out: str | Path | None = None, data: str | Path | None = None,
                bootstrap: int | None = None, validate_only: bool = False,
                chunksize: int | None = None, timeout: int = 3600) -> int:
    """Check the data against the configuration, then run the study notebook; return the exit
    code of ``cxlab study`` (0 written or validated, 1 the notebook failed, 2 invalid data).

    Writes OUT/validation.txt|html, OUT/manifest.json, OUT/index.html and, unless
    ``validate_only`` or the data have errors, OUT/driver_study.ipynb|html.
    """
    from .. import __version__
    t0 = time.perf_counter()
    config = Path(config).resolve()
    data_override = str(Path(data).resolve()) if data else None
    schema = load_schema(config, bootstrap=bootstrap, data=data_override)
    out = Path(out) if out else Path("reports") / f"study_{report.slug(config.stem)}"
    out.mkdir(parents=True, exist_ok=True)
    path = data_file(schema)
    big = path is not None and path.exists() and path.stat().st_size > LARGE_FILE_BYTES
    if chunksize or big:
        checked = validate_file(schema, path, chunksize=chunksize or 200_000)
    else:
        frame, customers = load_data(schema)
        checked = validate(schema, frame, customers)
    report.atomic_write(out / "validation.txt", checked.to_text() + "\n")
    report.atomic_write(out / "validation.html", _validation_page(checked, schema.title))
    print(checked.to_text())
    manifest = {"title": schema.title, "config": str(config), "cxlab_version": __version__,
                "data_file": str(path) if path else None,
                "data_sha256": files_sha256([path]) if path and path.exists() else None,
                "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "errors": len(checked.errors), "warnings": len(checked.warnings),
                "rows": checked.n_rows, "usable_rows": checked.usable_rows}
    status = 0
    if checked.errors:
        print(f"\nThe study stops: fix the {len(checked.errors)} error(s) above (also in "
              f"{out / 'validation.txt'}).")
        manifest["status"] = "invalid"
        status = 2
    elif validate_only:
        manifest["status"] = "validated"
    else:
        entry = report.run_notebook(
            resources.template(TEMPLATE), out, "driver_study",
            parameters={"config": str(config), "bootstrap": bootstrap, "data": data_override,
                        "progress": False},
            cwd=config.parent, timeout=timeout, title=schema.title,
            subtitle="Driver study · data " + (path.name if path else source_label(schema)),
            footer=f"cxlab {__version__} · config {config.name}")
        manifest.update(status=entry["status"], error=entry.get("error"),
                        notebook_seconds=entry.get("seconds"))
        if entry["status"] == "ok":
            print(f"\nStudy written: {out / 'driver_study.html'}")
        else:
            print(f"\nThe study notebook failed: {entry.get('error')}. The executed notebook "
                  f"({out / 'driver_study.ipynb'}) shows where.")
            status = 1
    manifest["seconds"] = round(time.perf_counter() - t0, 2)
    report.atomic_write(out / "manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")
    links = [("validation.html", "Data check")] + (
        [("driver_study.html", "Driver study")] if (out / "driver_study.html").exists()
        and manifest.get("status") == "ok" else [])
    body = "".join(f'<div class="card"><h3><a href="{h}">{t}</a></h3></div>' for h, t in links)
    report.atomic_write(out / "index.html", report.page(schema.title, f'<div class="cards">'
                                                        f'{body}</div>', subtitle="cxlab study"))
    return status
