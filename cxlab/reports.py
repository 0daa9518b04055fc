"""Parameterised reports: run a template notebook for the company and every segment, in parallel,
and publish stakeholder HTML (no code), an ``index.html`` landing page and a ``manifest.json``.

    import cxlab as cx
    batch = cx.reports.run("quarterly", by="region")          # company + every region
    batch.ok, batch.summary()                                   # did everything succeed? per report

The same from the shell: ``cxlab report quarterly --by region``. Output goes to
``reports/<period>/``: ``index.html``, one ``<template>-<segment>.html`` per report,
``notebooks/<...>.ipynb`` (the executed notebooks, for analysts) and ``manifest.json``
(parameters, input file hash, cxlab version, times, per-report status).

Reliability rules: a segment whose notebook fails is marked ``failed`` and the others go on; a
segment below the minimum base is marked ``suppressed`` and not run; every file is written to a
temporary name and moved into place (no half-written HTML); the same inputs give the same numbers
(fixed seeds). The notebook-side helpers (``prepare``, ``show_*``, ``record``) live in this
module too, so the template cells stay one call each and the logic is unit-tested.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from .checks import CXDataError, CXWarning

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = ROOT / "notebooks" / "templates"
RECORD_MIME = "application/vnd.cxlab.report+json"
REMOVE_TAGS = frozenset({"parameters", "injected-parameters", "remove-cell", "remove_cell"})
TABLES = ("customers", "survey", "contacts", "pulse")
_PERIOD = re.compile(r"^\d{4}Q[1-4]$")


# ----------------------------------------------------------------------------------------------
# Templates
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TemplateSpec:
    """A report template: its notebook, the table whose responses form the base, default split."""

    name: str
    notebook: str
    title: str
    table: str                 # table that defines the report's base ("survey" or "contacts")
    base_column: str           # answered values of this column are counted as the base
    default_by: str | None     # segment column used when --by is not given
    parameters: tuple[str, ...]

    @property
    def path(self) -> Path:
        return TEMPLATE_DIR / self.notebook


_COMMON = ("data", "period", "by", "segment", "min_base", "confidence", "seed")
TEMPLATES: dict[str, TemplateSpec] = {
    "quarterly": TemplateSpec(
        "quarterly", "quarterly_report.ipynb", "Quarterly customer-experience report",
        table="survey", base_column="ltr", default_by="region",
        parameters=_COMMON + ("waves", "driver_waves", "bootstrap", "top_actions")),
    "team_scorecard": TemplateSpec(
        "team_scorecard", "team_scorecard.ipynb", "Front-line team scorecard",
        table="contacts", base_column="csat", default_by="team",
        parameters=_COMMON + ("waves", "driver_waves", "bootstrap", "csat_target", "fcr_target",
                               "ces_target")),
}


def template_spec(template: str | os.PathLike) -> TemplateSpec:
    """Look up a template by name (``quarterly``, ``team_scorecard``) or by notebook path.

    A path to a custom notebook reuses the spec of the built-in template whose file name it
    starts with (e.g. ``my_quarterly_report.ipynb`` -> quarterly), else the quarterly spec.
    """
    key = str(template)
    if key in TEMPLATES:
        return TEMPLATES[key]
    for spec in TEMPLATES.values():
        if key == spec.notebook or key == spec.notebook.removesuffix(".ipynb"):
            return spec
    path = Path(key)
    if path.suffix == ".ipynb":
        if not path.exists():
            raise CXDataError(f"Template notebook {str(path)!r} does not exist.")
        base = next((s for s in TEMPLATES.values() if s.name in path.stem), TEMPLATES["quarterly"])
        return TemplateSpec(path.stem, str(path.resolve()), base.title, base.table,
                            base.base_column, base.default_by, base.parameters)
    raise CXDataError(f"Unknown report template {key!r}. Choose one of {', '.join(TEMPLATES)} "
                      "or give the path to a template notebook (.ipynb).")


def _template_path(spec: TemplateSpec) -> Path:
    path = Path(spec.notebook)
    return path if path.is_absolute() else TEMPLATE_DIR / spec.notebook


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------

@dataclass
class ReportData:
    """The tables a report reads, where they came from and their fingerprint."""

    name: str
    customers: pd.DataFrame | None = None
    survey: pd.DataFrame | None = None
    contacts: pd.DataFrame | None = None
    pulse: pd.DataFrame | None = None
    truth: dict | None = None
    files: tuple[Path, ...] = ()

    def table(self, name: str) -> pd.DataFrame:
        frame = getattr(self, name, None)
        if frame is None:
            raise CXDataError(f"The data {self.name!r} has no {name} table ({name}.csv). "
                              "This report needs it: add the file or choose another template.")
        return frame

    @property
    def sha256(self) -> str:
        return files_sha256(self.files)


def bundled_names() -> list[str]:
    """Names of the bundled datasets (``cx.datasets.names()`` when available)."""
    from . import datasets
    names = getattr(datasets, "names", None)
    if callable(names):
        try:
            return list(names())
        except Exception:  # pragma: no cover - a broken registry should not hide the folders
            pass
    folder = ROOT / "datasets"
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.exists() else []


def _bundled_folder(name: str) -> Path:
    from . import datasets
    for attr in ("path", "folder", "data_path"):
        func = getattr(datasets, attr, None)
        if callable(func):
            try:
                found = Path(func(name))
                if found.exists():
                    return found
            except Exception:
                pass
    return ROOT / "datasets" / name


def files_sha256(files: Sequence[Path]) -> str:
    """One SHA-256 over the given files' names and contents (order-independent)."""
    digest = hashlib.sha256()
    for path in sorted(Path(f) for f in files):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in {".xlsx", ".xls"}:
        return pd.read_excel(path)
    if suffix == ".sav":
        return pd.read_spss(path, convert_categoricals=False)
    raise CXDataError(f"Cannot read {str(path)!r}: use a .csv, .parquet, .xlsx or .sav file.")


def load_data(data: str | os.PathLike = "kestrel") -> ReportData:
    """Load a bundled dataset by name, a folder laid out like ``datasets/kestrel`` or one survey file.

    A folder needs ``survey.csv`` (or .parquet/.xlsx); ``customers``, ``contacts`` and ``pulse``
    are optional (sections that need a missing table say so). A single file is read as the survey.
    """
    if data is None:
        data = "kestrel"
    if not isinstance(data, (str, os.PathLike)):
        raise CXDataError(f"data must be a bundled dataset name or a path, got {data!r}.")
    key = str(data)
    path = Path(key).expanduser()
    if not path.exists() and key in bundled_names():
        from . import datasets
        loaded = datasets.load(key)
        folder = _bundled_folder(key)
        files = tuple(sorted(p for p in folder.glob("*") if p.is_file() and p.suffix in
                             {".csv", ".json", ".parquet"})) if folder.exists() else ()
        out = ReportData(key, files=files)
        for name in TABLES:
            setattr(out, name, getattr(loaded, name, None))
        out.truth = getattr(loaded, "truth", None)
        return out
    if not path.exists():
        raise CXDataError(
            f"Data {key!r} is neither a bundled dataset ({', '.join(bundled_names()) or 'none'}) "
            "nor an existing file or folder. Check the path (relative paths are read from the "
            "current directory) or list the bundled data with `cxlab datasets`.")
    if path.is_file():
        return ReportData(path.stem, survey=_read_table(path), files=(path.resolve(),))
    out = ReportData(path.name)
    files = []
    for name in TABLES:
        candidates = [path / f"{name}{ext}" for ext in (".csv", ".parquet", ".xlsx", ".sav")]
        found = next((c for c in candidates if c.exists()), None)
        if found is not None:
            setattr(out, name, _read_table(found))
            files.append(found.resolve())
    truth = path / "truth.json"
    if truth.exists():
        out.truth = json.loads(truth.read_text())
        files.append(truth.resolve())
    if out.survey is None and out.contacts is None:
        raise CXDataError(f"Folder {str(path)!r} has neither survey.csv nor contacts.csv. "
                          "A report folder needs at least the survey export named survey.csv.")
    out.files = tuple(files)
    return out


def waves_of(frame: pd.DataFrame, column: str = "wave") -> list[str]:
    """Sorted distinct waves (``YYYYQn`` strings sort in time order)."""
    if column not in frame.columns:
        raise CXDataError(f"The data has no {column!r} column, so periods cannot be told apart. "
                          "Add a wave column with values like '2026Q3'.")
    return sorted(str(w) for w in frame[column].dropna().unique())


def check_period(period, waves: Sequence[str]) -> str:
    """Validate ``period`` against the data's waves; None means the latest wave."""
    if period is None or (isinstance(period, str) and period.strip().lower() in {"", "latest", "none"}):
        if not waves:
            raise CXDataError("The data has no waves at all; cannot choose a period.")
        return waves[-1]
    text = str(period).strip().upper()
    if not isinstance(period, str) or not _PERIOD.match(text):
        raise CXDataError(f"period must be a quarter written like '2026Q3' (a string), got {period!r}. "
                          f"Available: {', '.join(waves)}.")
    if text not in waves:
        raise CXDataError(f"Period {text!r} is not in the data. Available waves: {', '.join(waves)}.")
    return text


def segment_values(frame: pd.DataFrame, by: str) -> list[str]:
    if by not in frame.columns:
        raise CXDataError(f"Cannot split reports by {by!r}: the data has no such column. "
                          f"Columns you could use: {', '.join(_segment_columns(frame)) or 'none'}.")
    return sorted(str(v) for v in frame[by].dropna().unique())


def _segment_columns(frame: pd.DataFrame) -> list[str]:
    out = []
    for col in frame.columns:
        if col in {"wave"} or col.endswith("_id") or col.endswith("_date"):
            continue
        values = frame[col]
        if (pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)) \
                and 1 < values.nunique() <= 50:
            out.append(col)
    return out


def check_segment(by, segment, frame: pd.DataFrame) -> tuple[str | None, str | None]:
    """Validate the segment column and value; (None, None) is the whole company."""
    if by in (None, "", "none", "None") and segment in (None, "", "none", "None"):
        return None, None
    if by in (None, "", "none", "None"):
        raise CXDataError(f"segment={segment!r} was given without by=... Name the column it "
                          "belongs to, e.g. by='region'.")
    if not isinstance(by, str):
        raise CXDataError(f"by must be a column name, got {by!r}.")
    values = segment_values(frame, by)
    if segment in (None, "", "none", "None"):
        return by, None
    if str(segment) not in values:
        raise CXDataError(f"Unknown {by} {segment!r}. Choose one of: {', '.join(values)}.")
    return by, str(segment)


def segment_label(by: str | None, value: str | None) -> str:
    """'Company' or e.g. 'Region North'."""
    if value is None:
        return "Company"
    return f"{str(by).replace('_', ' ').capitalize()} {value}"


def slug(text: str) -> str:
    out = re.sub(r"[^0-9a-zA-Z]+", "-", str(text)).strip("-").lower()
    return out or "x"


# ----------------------------------------------------------------------------------------------
# Atomic files
# ----------------------------------------------------------------------------------------------

def atomic_write(path: str | os.PathLike, content: str | bytes) -> Path:
    """Write ``content`` to a temporary file beside ``path``, fsync it and rename it into place.

    Readers see either the old file or the complete new one, never a half-written file
    (os.replace is atomic on POSIX and Windows within one file system).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# ----------------------------------------------------------------------------------------------
# Running one notebook
# ----------------------------------------------------------------------------------------------

def kernel_argv() -> list[str]:
    """The kernel command: this interpreter's ipykernel, whatever kernelspecs are installed."""
    return [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def _kernel_manager_class():
    """An AsyncKernelManager whose kernel is always ``kernel_argv()`` (explicit kernel).

    A kernelspec named ``python3`` may point at ``python`` on PATH (another interpreter without
    cxlab); reports must run in the interpreter that runs ``cxlab report``.
    """
    import subprocess

    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec

    class CurrentPythonKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            kw.setdefault("stderr", subprocess.DEVNULL)     # e.g. ipykernel's TCP notice
            return await AsyncKernelManager._async_start_kernel(self, **kw)

        @property
        def kernel_spec(self):
            if self._kernel_spec is None:
                self._kernel_spec = KernelSpec(argv=kernel_argv(), language="python",
                                               display_name="Python (cxlab report)",
                                               resource_dir=str(Path(__file__).parent))
            return self._kernel_spec

    return CurrentPythonKernelManager


def _is_kernel_start_failure(err: BaseException) -> bool:
    """Errors that mean the kernel never came up (worth one retry), not a failing cell."""
    from papermill.exceptions import PapermillExecutionError
    if isinstance(err, PapermillExecutionError):
        return False
    name = type(err).__name__
    text = str(err).lower()
    return (isinstance(err, (TimeoutError, ConnectionError)) or name == "DeadKernelError"
            or ("kernel" in text and any(w in text for w in ("died", "start", "timeout",
                                                               "timed out", "replying"))))


def _first_line(text: str, limit: int = 300) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text)).strip()
    line = text.splitlines()[0] if text else ""
    return line[:limit]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def execute_job(job: Mapping) -> dict:
    """Run one report notebook with papermill and publish its HTML; never raises.

    ``job`` holds: name, template (path), parameters, notebook (output path), html (output path),
    cwd, timeout, title, kernel_name (None = this interpreter). Returns the manifest entry.
    """
    import logging

    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    logging.getLogger("papermill").setLevel(logging.ERROR)
    start, started = time.perf_counter(), _now()
    notebook, html_path = Path(job["notebook"]), Path(job["html"])
    entry = {"name": job["name"], "label": job["label"], "segment": job["segment"],
             "parameters": dict(job["parameters"]), "status": "running",
             "notebook": job["notebook_rel"], "html": None, "started": started,
             "attempts": 0, "error": None, "kpis": [], "notes": []}
    tmp = notebook.with_name(f".{notebook.stem}.{os.getpid()}.partial.ipynb")
    notebook.parent.mkdir(parents=True, exist_ok=True)
    threads = job.get("threads")
    if threads:     # parallel kernels: no BLAS oversubscription of the cores
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
    engine_kwargs = {}
    if not job.get("kernel_name"):
        engine_kwargs["kernel_manager_class"] = _kernel_manager_class()
    try:
        for attempt in (1, 2):
            entry["attempts"] = attempt
            try:
                pm.execute_notebook(
                    str(job["template"]), str(tmp), parameters=dict(job["parameters"]),
                    kernel_name=job.get("kernel_name") or "python3", cwd=str(job["cwd"]),
                    progress_bar=False, request_save_on_cell_execute=False,
                    execution_timeout=job.get("timeout"), start_timeout=60, **engine_kwargs)
                entry["status"] = "ok"
                break
            except PapermillExecutionError as err:
                entry["status"] = "failed"
                entry["error"] = f"{err.ename}: {_first_line(err.evalue)} (cell {err.exec_count})"
                break
            except Exception as err:  # kernel did not start, or papermill itself failed
                entry["status"] = "failed"
                entry["error"] = f"{type(err).__name__}: {_first_line(err)}"
                if attempt == 1 and _is_kernel_start_failure(err):
                    entry["notes"].append(f"retried after a kernel start failure ({entry['error']})")
                    continue
                break
        if tmp.exists():
            os.replace(tmp, notebook)
        if entry["status"] == "ok":
            _publish(job, entry, notebook, html_path)
        elif html_path.exists():
            html_path.unlink()      # never leave an older report that looks current
    except Exception as err:  # rendering or file errors: mark failed, keep going
        entry["status"] = "failed"
        entry["error"] = f"{type(err).__name__}: {_first_line(err)}"
        entry["traceback"] = traceback.format_exc(limit=5)
        if html_path.exists():
            html_path.unlink()
    finally:
        if tmp.exists():
            tmp.unlink()
    if entry["status"] == "ok":
        entry["html"] = job["html_rel"]
    elif not notebook.exists():
        entry["notebook"] = None
    entry["finished"] = _now()
    entry["seconds"] = round(time.perf_counter() - start, 2)
    return entry


def _publish(job: Mapping, entry: dict, notebook: Path, html_path: Path) -> None:
    import nbformat
    nb = nbformat.read(notebook, as_version=4)
    record = read_record(nb)
    entry["kpis"] = record.get("kpis", [])
    entry["notes"] += record.get("notes", [])
    if record.get("status") == "suppressed":
        entry["status"] = "suppressed"
        entry["error"] = record.get("reason")
        if html_path.exists():
            html_path.unlink()
        return
    page = stakeholder_html(nb, title=job["title"], subtitle=job["subtitle"],
                            index_href="index.html", footer=job["footer"])
    atomic_write(html_path, page)


def read_record(nb) -> dict:
    """The values a report notebook recorded with :func:`record` (empty dict if none)."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if RECORD_MIME in data:
                value = data[RECORD_MIME]
                return json.loads(value) if isinstance(value, str) else dict(value)
    return {}


# ----------------------------------------------------------------------------------------------
# Stakeholder HTML
# ----------------------------------------------------------------------------------------------

_KEEP_MIME = ("text/html", "image/png", "image/svg+xml", "image/jpeg", "text/markdown", "text/plain")

_CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#d9e2ec; --bg:#f5f7fa; --ok:#2f855a;
        --bad:#c53030; --warn:#b7791f; --accent:#2b6cb0; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; color:var(--ink); background:var(--bg); }
header.cx-top { background:#102a43; color:#fff; padding:14px 28px; }
header.cx-top a { color:#bcccdc; text-decoration:none; font-size:14px; }
header.cx-top h1 { margin:4px 0 0; font-size:24px; font-weight:600; }
header.cx-top .sub { color:#bcccdc; font-size:14px; }
main { max-width:1080px; margin:0 auto; padding:18px 28px 40px; }
.cx-page { background:#fff; border:1px solid var(--line); border-radius:8px; padding:8px 28px 24px; }
h1, h2, h3 { line-height:1.25; } h2 { margin-top:1.8em; border-bottom:1px solid var(--line);
  padding-bottom:4px; } .anchor-link { display:none; }
table { border-collapse:collapse; margin:10px 0 16px; font-size:14px; }
th, td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:right; }
th { background:#f0f4f8; font-weight:600; } td:first-child, th:first-child { text-align:left; }
img { max-width:100%; height:auto; }
.jp-OutputArea-output pre, pre { white-space:pre-wrap; font-size:13px; }
.cx-note { color:var(--muted); font-size:13px; }
.cx-up { color:var(--ok); font-weight:600; } .cx-down { color:var(--bad); font-weight:600; }
.cx-flat { color:var(--muted); } .cx-supp { color:var(--warn); font-style:italic; }
.cx-callout { border-left:4px solid var(--warn); background:#fffaf0; padding:8px 12px; margin:10px 0; }
footer { color:var(--muted); font-size:12px; margin-top:18px; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(300px, 1fr)); gap:16px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 16px; }
.card h3 { margin:0 0 2px; font-size:17px; } .card h3 a { color:var(--accent); text-decoration:none; }
.card .status { font-size:12px; font-weight:600; text-transform:uppercase; letter-spacing:.04em; }
.status.ok { color:var(--ok); } .status.failed { color:var(--bad); }
.status.suppressed { color:var(--warn); }
.kpis { display:flex; flex-wrap:wrap; gap:14px; margin-top:8px; }
.kpi .v { font-size:22px; font-weight:650; } .kpi .l { font-size:12px; color:var(--muted); }
.kpi .d { font-size:12px; }
@media print {
  body { background:#fff; font-size:12px; }
  header.cx-top { background:#fff; color:#102a43; border-bottom:2px solid #102a43; padding:6px 0; }
  header.cx-top a { display:none; } header.cx-top .sub { color:#616e7c; }
  main { max-width:none; padding:0; } .cx-page { border:none; padding:0; }
  img, table, .card { break-inside:avoid; } h2 { break-after:avoid; }
}
"""


def _page(title: str, body: str, subtitle: str = "", back: str | None = None,
          footer: str = "") -> str:
    back_link = f'<a href="{html.escape(back)}">&larr; All reports</a>' if back else ""
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            f"<header class=\"cx-top\">{back_link}<h1>{html.escape(title)}</h1>"
            f"<div class=\"sub\">{html.escape(subtitle)}</div></header>"
            f"<main>{body}<footer>{footer}</footer></main></body></html>\n")


def _keep_output(out) -> bool:
    kind = out.get("output_type")
    if kind == "stream":
        return out.get("name") == "stdout"
    if kind in {"display_data", "execute_result"}:
        data = out.get("data", {})
        keep = {k: v for k, v in data.items() if k in _KEEP_MIME}
        if any(k != "text/plain" for k in keep):
            keep.pop("text/plain", None)
        if not keep:
            return False
        plain = keep.get("text/plain")
        if plain is not None:
            text = "".join(plain) if isinstance(plain, list) else str(plain)
            if text.startswith("<") and text.rstrip().endswith(">") and "object at" in text:
                return False        # e.g. "<Figure size ...>" or "<Axes: ...>" reprs
            if re.match(r"^<(Figure|Axes|matplotlib)", text):
                return False
        out["data"] = keep
        out["metadata"] = {k: v for k, v in out.get("metadata", {}).items() if k in keep}
        return True
    return False            # errors and anything unknown never reach a stakeholder


def stakeholder_notebook(nb):
    """A copy of an executed notebook fit for stakeholders: no code, no parameter cells,
    no stderr/warnings, no error outputs, no recorded-values cell; markdown kept."""
    import copy
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & REMOVE_TAGS or cell.cell_type == "raw":
            continue
        if cell.cell_type == "code":
            outputs = [o for o in cell.get("outputs", []) if _keep_output(o)]
            if not outputs:
                continue
            cell.outputs = outputs
            cell.source = ""
            cell.execution_count = None
        cells.append(cell)
    nb.cells = cells
    return nb


def stakeholder_html(nb, title: str, subtitle: str = "", index_href: str | None = "index.html",
                     footer: str = "") -> str:
    """Render an executed notebook as a self-contained page: outputs and narrative only."""
    from nbconvert import HTMLExporter
    clean = stakeholder_notebook(nb)
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, anchor_link_text="")
    body, _ = exporter.from_notebook_node(clean)
    return _page(title, f'<div class="cx-page">{body}</div>', subtitle=subtitle, back=index_href,
                 footer=footer)


# ----------------------------------------------------------------------------------------------
# Batches
# ----------------------------------------------------------------------------------------------

@dataclass
class Batch:
    """The outcome of one ``cxlab report`` run: its manifest entry and where the files are."""

    out_dir: Path
    manifest: dict

    @property
    def reports(self) -> list[dict]:
        return self.manifest["reports"]

    @property
    def ok(self) -> bool:
        """True when every report is published or suppressed by design (nothing failed)."""
        return all(r["status"] in {"ok", "suppressed"} for r in self.reports)

    @property
    def failed(self) -> list[str]:
        return [r["name"] for r in self.reports if r["status"] not in {"ok", "suppressed"}]

    @property
    def index(self) -> Path:
        return self.out_dir / "index.html"

    def summary(self) -> pd.DataFrame:
        rows = [{"report": r["name"], "status": r["status"], "seconds": r.get("seconds"),
                 "html": r.get("html"), "error": r.get("error")} for r in self.reports]
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        counts = pd.Series([r["status"] for r in self.reports]).value_counts()
        parts = ", ".join(f"{n} {s}" for s, n in counts.items())
        return (f"{len(self.reports)} report(s) for {self.manifest['period']} in "
                f"{self.manifest['seconds']:.1f} s: {parts}. Open {self.index}")


def base_count(frame: pd.DataFrame, spec: TemplateSpec, period: str, by: str | None = None,
               value: str | None = None) -> int:
    """Answered ``spec.base_column`` values in ``period`` (and segment ``by == value``)."""
    rows = frame["wave"].astype(str) == period
    if by is not None and value is not None:
        rows &= frame[by].astype(str) == value
    if spec.base_column in frame.columns:
        return int(frame.loc[rows, spec.base_column].notna().sum())
    return int(rows.sum())


def _check_params(spec: TemplateSpec, params: Mapping) -> None:
    import difflib
    reserved = {"data", "period", "by", "segment"}
    for name in params:
        if name in reserved:
            raise CXDataError(f"Give {name!r} as its own argument, not inside params.")
        if name not in spec.parameters:
            close = difflib.get_close_matches(name, spec.parameters, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise CXDataError(f"Unknown parameter {name!r} for the {spec.name} template.{hint} "
                              f"Known parameters: {', '.join(spec.parameters)}.")


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run(template: str = "quarterly", period: str | None = None, by: str | None = None,
        data: str | os.PathLike = "kestrel", out: str | os.PathLike = "reports",
        workers: int | None = None, segments: Sequence[str] | None = None,
        params: Mapping | None = None, min_base: int = 30, company: bool = True,
        progress: bool = True, kernel_name: str | None = None, timeout: int | None = 900,
        pdf: bool = False) -> Batch:
    """Run ``template`` for the company and for every value of ``by``; publish under out/<period>/.

    ``by=None`` uses the template's default split (quarterly: region; team_scorecard: team);
    ``by="none"`` runs the company report only. ``segments`` restricts the segment values.
    ``params`` are extra template parameters (e.g. ``{"bootstrap": 200}``). ``workers``
    defaults to the usable cores. Segments with fewer than ``min_base`` responses in the period
    are not run and are marked ``suppressed``; a failing report is marked ``failed``.
    Returns a :class:`Batch`; ``batch.ok`` is False when any report failed.
    """
    t0, started = time.perf_counter(), _now()
    spec = template_spec(template)
    tpl = _template_path(spec)
    if not tpl.exists():
        raise CXDataError(f"Template notebook {str(tpl)!r} is missing. Reinstall cxlab from a full "
                          "checkout (notebooks/templates/).")
    params = dict(params or {})
    _check_params(spec, params)
    if not isinstance(min_base, int) or min_base < 1:
        raise CXDataError(f"min_base must be a positive whole number, got {min_base!r}.")
    # values too, before any kernel starts (the notebook checks them again)
    params = {k: v for k, v in validate_parameters(str(template), {**params, "min_base": min_base}
                                                   ).items() if k in params}
    dataset = load_data(data)
    frame = dataset.table(spec.table)
    period = check_period(period, waves_of(frame))
    if by is None:
        by = spec.default_by
    if isinstance(by, str) and by.lower() in {"", "none", "company"}:
        by = None
    values = segment_values(frame, by) if by else []
    if segments is not None and by is None:
        raise CXDataError("segments were given without a segment column: add by=..., e.g. "
                          "--by region.")
    if segments is not None:
        wanted = [str(s) for s in segments]
        unknown = [s for s in wanted if s not in values]
        if unknown:
            raise CXDataError(f"Unknown {by} value(s) {', '.join(map(repr, unknown))}. "
                              f"Choose from: {', '.join(values)}.")
        values = [v for v in values if v in wanted]

    if not company and not values:
        raise CXDataError("Nothing to run: the company report is switched off and there are no "
                          "segments. Drop --no-company or give --by.")
    out_dir = Path(out).expanduser().resolve() / period
    (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    data_param = str(data) if (isinstance(data, str) and data in bundled_names()
                               and not Path(str(data)).exists()) else str(Path(data).resolve())
    common = {"data": data_param, "period": period, "min_base": min_base, **params}
    from . import __version__
    footer = (f"cxlab {__version__} &middot; data {html.escape(dataset.name)} "
              f"(sha256 {dataset.sha256[:12]}) &middot; period {period} &middot; minimum base "
              f"{min_base} &middot; generated {html.escape(started)}")

    targets = ([(None, "Company")] if company else []) + [(v, segment_label(by, v)) for v in values]
    jobs, entries, names = [], [], []
    for value, label in targets:
        name = f"{spec.name}-company" if value is None else f"{spec.name}-{slug(by)}-{slug(value)}"
        names.append(name)
        parameters = {**common, "by": by if value is not None else None, "segment": value}
        if by is not None and value is None:
            parameters["by"] = by          # company report shows the split by this column
        n = base_count(frame, spec, period, by if value is not None else None, value)
        if n < min_base:
            html_file = out_dir / f"{name}.html"
            if html_file.exists():
                html_file.unlink()
            entries.append({"name": name, "label": label, "segment": value, "parameters": parameters,
                            "status": "suppressed", "notebook": None, "html": None,
                            "error": f"{n} responses in {period} < minimum base {min_base}; "
                                     "not reported", "kpis": [], "notes": [], "attempts": 0,
                            "started": None, "finished": None, "seconds": 0.0, "base": n})
            continue
        jobs.append({"name": name, "label": label, "segment": value, "parameters": parameters,
                     "template": str(tpl), "notebook": str(out_dir / "notebooks" / f"{name}.ipynb"),
                     "notebook_rel": f"notebooks/{name}.ipynb", "html": str(out_dir / f"{name}.html"),
                     "html_rel": f"{name}.html", "cwd": str(out_dir), "timeout": timeout,
                     "kernel_name": kernel_name, "base": n,
                     "title": f"{label} — {period}", "subtitle": f"{spec.title} · data {dataset.name}",
                     "footer": footer})

    n_workers = max(1, min(int(workers or _default_workers()), max(len(jobs), 1)))
    if n_workers > 1:
        for job in jobs:
            job["threads"] = max(1, _default_workers() // n_workers)
    batch_id = f"{spec.name}-by-{slug(by)}" if by else f"{spec.name}-company"
    manifest = {"id": batch_id, "template": spec.name, "template_file": str(tpl), "by": by,
                "period": period, "data": data_param, "data_name": dataset.name,
                "data_sha256": dataset.sha256,
                "data_files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                               for p in dataset.files},
                "parameters": common, "cxlab_version": __version__,
                "python": sys.version.split()[0], "kernel": kernel_name or kernel_argv()[:3],
                "workers": n_workers, "started": started, "finished": None, "seconds": None,
                "status": "running", "reports": entries}
    results: list[dict] = []
    try:
        _run_jobs(jobs, n_workers, progress, f"{spec.name} {period}", results)
    except KeyboardInterrupt:
        finished = {r["name"] for r in results}
        for job in jobs:
            html_file = Path(job["html"])
            if job["name"] not in finished and html_file.exists():
                html_file.unlink()          # an older report must not pass for this run's
        manifest["status"] = "interrupted"
        manifest["reports"] = results + entries + [
            {"name": j["name"], "label": j["label"], "segment": j["segment"],
             "parameters": j["parameters"], "status": "interrupted", "html": None,
             "notebook": None, "kpis": [], "notes": [], "error": "interrupted (Ctrl-C)"}
            for j in jobs if j["name"] not in finished]
        _finish(manifest, out_dir, t0)
        raise
    base_by_name = {j["name"]: j["base"] for j in jobs}
    for entry in results:
        entry["base"] = base_by_name.get(entry["name"])
    order = {name: i for i, name in enumerate(names)}        # company first, then segments
    manifest["reports"] = sorted(results + entries, key=lambda e: order[e["name"]])
    manifest["status"] = "ok" if all(r["status"] in {"ok", "suppressed"}
                                     for r in manifest["reports"]) else "failed"
    if pdf:
        for entry in manifest["reports"]:
            if entry["status"] == "ok":
                try:
                    pdf_name = entry["html"].replace(".html", ".pdf")
                    html_to_pdf(out_dir / entry["html"], out_dir / pdf_name)
                    entry["pdf"] = pdf_name
                except Exception as err:
                    entry["notes"].append(f"PDF not written: {_first_line(err)}")
    _finish(manifest, out_dir, t0)
    return Batch(out_dir, manifest)


def _run_jobs(jobs: list[dict], workers: int, progress: bool, desc: str,
              results: list[dict]) -> list[dict]:
    """Run the jobs (inline for one worker, else a process pool), appending each manifest entry
    to ``results`` as it completes (so an interrupted batch still knows what finished)."""
    import nbconvert  # noqa: F401  (imported once here, inherited by forked workers)
    import papermill  # noqa: F401
    from .checks import progress_bar
    tqdm = progress_bar()   # no "IProgress not found" warning on stderr inside Jupyter
    bar = tqdm(total=len(jobs), desc=desc, unit="report", disable=not progress or not jobs)
    try:
        if workers == 1:
            for job in jobs:
                entry = execute_job(job)
                results.append(entry)
                bar.update(1)
                bar.set_postfix_str(f"{entry['name']}: {entry['status']}")
            return results
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        # Linux: fork the workers from this process (cxlab, pandas and papermill are already
        # imported, so workers start at once; no zmq context or event loop exists here yet).
        # Elsewhere spawn, which imports everything afresh in each worker.
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        context = multiprocessing.get_context(method)
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        try:
            futures = {pool.submit(execute_job, job): job for job in jobs}
            for future in as_completed(futures):
                job = futures[future]
                try:
                    entry = future.result()
                except Exception as err:   # the worker process itself died
                    entry = {"name": job["name"], "label": job["label"], "segment": job["segment"],
                             "parameters": job["parameters"], "status": "failed",
                             "notebook": None, "html": None, "kpis": [], "notes": [],
                             "error": f"{type(err).__name__}: {_first_line(err)}",
                             "attempts": 1, "started": None, "finished": _now(), "seconds": None}
                results.append(entry)
                bar.update(1)
                bar.set_postfix_str(f"{entry['name']}: {entry['status']}")
        except KeyboardInterrupt:
            _stop_pool(pool)
            raise
        pool.shutdown(wait=True)
        return results
    finally:
        bar.close()


def _stop_pool(pool, grace: float = 5.0) -> None:
    """Ctrl-C: interrupt the workers (each stops its kernel and removes its temporary files),
    then terminate any that are still running after ``grace`` seconds."""
    import signal
    procs = list(getattr(pool, "_processes", {}).values())
    for proc in procs:
        if proc.is_alive():
            try:
                os.kill(proc.pid, signal.SIGINT)
            except OSError:
                pass
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.terminate()


def _finish(manifest: dict, out_dir: Path, t0: float) -> None:
    manifest["finished"] = _now()
    manifest["seconds"] = round(time.perf_counter() - t0, 2)
    path = out_dir / "manifest.json"
    with _locked(out_dir / ".manifest.lock"):       # two batches of one period may finish together
        batches = []
        if path.exists():
            try:
                batches = json.loads(path.read_text()).get("batches", [])
            except (json.JSONDecodeError, OSError):
                batches = []
        batches = [b for b in batches if b.get("id") != manifest["id"]] + [manifest]
        batches.sort(key=lambda b: (b.get("template") != "quarterly", b.get("id", "")))
        full = {"period": manifest["period"], "cxlab_version": manifest["cxlab_version"],
                "updated": manifest["finished"], "batches": batches}
        atomic_write(path, json.dumps(full, indent=2, default=str) + "\n")
        atomic_write(out_dir / "index.html", index_html(full))


class _locked:
    """Exclusive advisory lock on ``path`` (POSIX flock; a no-op where unavailable)."""

    def __init__(self, path: Path):
        self.path = path
        self.handle = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        self.handle = open(self.path, "a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.handle is not None:
            import fcntl
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
        return False


def read_manifest(path: str | os.PathLike) -> dict:
    """Read ``manifest.json`` (a file or the period folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    return json.loads(path.read_text())


def _card(entry: dict) -> str:
    status = entry.get("status", "failed")
    label = html.escape(str(entry.get("label") or entry.get("name")))
    if status == "ok" and entry.get("html"):
        head = f'<h3><a href="{html.escape(entry["html"])}">{label}</a></h3>'
    else:
        head = f"<h3>{label}</h3>"
    words = {"ok": "published", "failed": "failed — not published",
             "suppressed": "suppressed — base too small", "interrupted": "interrupted"}
    parts = [head, f'<div class="status {html.escape(status)}">{words.get(status, status)}</div>']
    kpis = []
    for k in entry.get("kpis", []):
        change = k.get("change_text") or ""
        css = {"up": "cx-up", "down": "cx-down"}.get(k.get("direction"), "cx-flat")
        kpis.append(f'<div class="kpi"><div class="l">{html.escape(str(k.get("name", "")))}</div>'
                    f'<div class="v">{html.escape(str(k.get("text", "")))}</div>'
                    f'<div class="l">{html.escape(str(k.get("interval") or ""))}</div>'
                    f'<div class="d {css}">{html.escape(change)}</div></div>')
    if kpis:
        parts.append(f'<div class="kpis">{"".join(kpis)}</div>')
    if status != "ok" and entry.get("error"):
        parts.append(f'<p class="cx-note">{html.escape(str(entry["error"]))}</p>')
    if status == "failed" and entry.get("notebook"):
        parts.append(f'<p class="cx-note">For the analyst: executed notebook '
                     f'<code>{html.escape(entry["notebook"])}</code>.</p>')
    if entry.get("pdf"):
        parts.append(f'<p class="cx-note"><a href="{html.escape(entry["pdf"])}">PDF</a></p>')
    return f'<div class="card">{"".join(parts)}</div>'


def index_html(manifest: dict) -> str:
    """The landing page: one section per batch, one card per report with its KPIs."""
    sections = []
    for batch in manifest.get("batches", []):
        spec = TEMPLATES.get(batch.get("template"))
        title = spec.title if spec else batch.get("template", "Reports")
        by = batch.get("by")
        counts = pd.Series([r["status"] for r in batch["reports"]]).value_counts().to_dict()
        stat = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        secs = batch.get("seconds")
        sections.append(
            f"<h2>{html.escape(title)}{' — by ' + html.escape(by) if by else ''}</h2>"
            f'<p class="cx-note">{html.escape(stat)}; data {html.escape(str(batch.get("data_name")))} '
            f"(sha256 {html.escape(str(batch.get('data_sha256', ''))[:12])}); "
            f"{'' if secs is None else f'{secs:.0f} s; '}"
            f"finished {html.escape(str(batch.get('finished')))}."
            "</p>"
            f'<div class="cards">{"".join(_card(r) for r in batch["reports"])}</div>')
    body = "".join(sections) or "<p>No reports yet.</p>"
    note = ("<p class=\"cx-note\">Each figure carries its 95% confidence interval; a change is "
            "called a change only when it is larger than the noise. Groups with fewer responses "
            "than the minimum base are suppressed.</p>")
    data = sorted({str(b.get("data_name")) for b in manifest.get("batches", [])})
    return _page(f"Customer-experience reports — {manifest.get('period', '')}", note + body,
                 subtitle=f"data {', '.join(data)} · cxlab {manifest.get('cxlab_version', '')}",
                 footer=f"Updated {html.escape(str(manifest.get('updated')))}")


# ----------------------------------------------------------------------------------------------
# Chromium (PDF export; the browser tests use the same helpers)
# ----------------------------------------------------------------------------------------------

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")


def find_chromium() -> str | None:
    import shutil
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def chromium(args: Sequence[str], timeout: float = 60):
    """Run headless Chromium with a throw-away profile and no background networking."""
    import subprocess
    import tempfile
    exe = find_chromium()
    if exe is None:
        raise RuntimeError("Chromium is not installed (Debian: apt-get install -y chromium).")
    with tempfile.TemporaryDirectory(prefix="cxlab-chromium-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def html_to_pdf(html_path: str | os.PathLike, pdf_path: str | os.PathLike) -> Path:
    """Print a report page to PDF with headless Chromium (written atomically)."""
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)
    tmp = pdf_path.with_name(f".{pdf_path.name}.{os.getpid()}.tmp")
    try:
        done = chromium([f"--print-to-pdf={tmp}", "--no-pdf-header-footer", html_path.as_uri()])
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise RuntimeError(f"Chromium wrote no PDF: {_first_line(done.stderr)}")
        os.replace(tmp, pdf_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return pdf_path


# ----------------------------------------------------------------------------------------------
# Inside a report notebook: validate parameters, then one call per section
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KPI:
    """A headline measure: which table/column, which cx.metrics function and its options."""

    name: str
    table: str
    column: str
    metric: str
    kwargs: Mapping = field(default_factory=dict)
    unit: str = ""
    description: str = ""

    def compute(self, scores, min_base: int, confidence: float):
        from . import metrics
        return getattr(metrics, self.metric)(scores, min_base=min_base, confidence=confidence,
                                             **self.kwargs)

    def fmt(self, value: float, signed: bool | None = None) -> str:
        if value is None or not np.isfinite(value):
            return "–"
        signed = self.name == "NPS" if signed is None else signed
        digits = 2 if self.unit == "mean" else 1
        text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
        text = text.replace("-", "−")
        if self.unit == "%":
            text += ("" if signed else "%")
            if signed:
                text += " pts"
        return text


QUARTERLY_KPIS = (
    KPI("NPS", "survey", "ltr", "nps", {}, "score",
        "likelihood to recommend 0–10: % promoters (9–10) − % detractors (0–6)"),
    KPI("CSAT", "survey", "osat", "csat", {"scale": (1, 5), "top": 2}, "%",
        "overall satisfaction: % answering 4 or 5 on 1–5"),
    KPI("CES", "survey", "effort", "ces", {"scale": (1, 7)}, "mean",
        "customer effort: mean of 1–7, 7 = very easy (higher is better)"),
)
TEAM_KPIS = (
    KPI("CSAT", "contacts", "csat", "csat", {"scale": (1, 5), "top": 2}, "%",
        "post-contact satisfaction: % answering 4 or 5 on 1–5"),
    KPI("CES", "contacts", "ces", "ces", {"scale": (1, 7)}, "mean",
        "post-contact effort: mean of 1–7, 7 = very easy"),
    KPI("FCR", "contacts", "fcr", "top_box", {"scale": (0, 1), "top": (1,)}, "%",
        "first-contact resolution: % of contacts resolved at the first contact"),
)
KPIS = {"quarterly": QUARTERLY_KPIS, "team_scorecard": TEAM_KPIS}

DEFAULTS = {"data": "kestrel", "period": None, "by": None, "segment": None, "min_base": 30,
            "confidence": 0.95, "seed": 0, "waves": 6, "driver_waves": 4, "bootstrap": 200,
            "top_actions": 5, "csat_target": None, "fcr_target": None, "ces_target": None}
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open", "display"}


@dataclass
class ReportContext:
    """Validated parameters plus the data a report may show (its own segment, and the company
    as benchmark). Created by :func:`prepare`; every ``show_*`` section takes it."""

    template: str
    data: ReportData
    period: str
    previous: str | None
    waves: list[str]
    by: str | None
    segment: str | None
    min_base: int
    confidence: float
    seed: int
    options: dict
    base: int = 0
    suppressed: bool = False
    reason: str | None = None
    notes: list = field(default_factory=list)
    cache: dict = field(default_factory=dict)

    @property
    def spec(self) -> TemplateSpec:
        return template_spec(self.template)

    @property
    def label(self) -> str:
        return segment_label(self.by, self.segment)

    @property
    def kpis(self) -> tuple[KPI, ...]:
        return KPIS.get(self.spec.name, QUARTERLY_KPIS)

    def scope(self, table: str) -> pd.DataFrame:
        """The report's own rows of ``table`` (all waves): its segment, or the whole company."""
        frame = self.data.table(table)
        if self.segment is None:
            return frame
        if self.by not in frame.columns:
            raise CXDataError(f"The {table} table has no {self.by!r} column, so it cannot be "
                              f"cut to {self.label}.")
        return frame.loc[frame[self.by].astype(str) == self.segment]

    def has_scope(self, table: str) -> bool:
        frame = getattr(self.data, table, None)
        return frame is not None and (self.segment is None or self.by in frame.columns)

    def company(self, table: str) -> pd.DataFrame:
        return self.data.table(table)

    def in_period(self, frame: pd.DataFrame, period: str | None = None) -> pd.DataFrame:
        return frame.loc[frame["wave"].astype(str) == (period or self.period)]


def _whole(value, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not float(value).is_integer():
        raise CXDataError(f"{name} must be a whole number, got {value!r}.")
    value = int(value)
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise CXDataError(f"{name} must be {span}, got {value}.")
    return value


def _number(value, name: str, low: float, high: float, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or not low <= float(value) <= high:
        raise CXDataError(f"{name} must be a number from {low:g} to {high:g}"
                          f"{' or None' if allow_none else ''}, got {value!r}.")
    return float(value)


def _user_parameters(namespace: Mapping) -> dict:
    """Names a notebook user (or papermill) set: no modules, IPython helpers or private names."""
    import types
    out = {}
    for name, value in namespace.items():
        if name.startswith("_") or name in _IPYTHON_NAMES or isinstance(value, types.ModuleType):
            continue
        if callable(value) and not isinstance(value, (str, int, float)):
            continue
        out[name] = value
    return out


def validate_parameters(template: str, params: Mapping) -> dict:
    """Check every report parameter (type, range, known name); return them with defaults filled.

    Raises CXDataError naming the parameter, what it got and what it accepts. Does not look at
    the data (period and segment are checked in :func:`prepare`).
    """
    import difflib
    spec = template_spec(template)
    known = spec.parameters
    unknown = [n for n in params if n not in known]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise CXDataError(f"Unknown parameter(s) {', '.join(hints)} for the {spec.name} report. "
                          f"Known parameters: {', '.join(known)}.")
    p = {k: DEFAULTS.get(k) for k in known}
    p.update(params)
    p["min_base"] = _whole(p["min_base"], "min_base", 1)
    p["confidence"] = _number(p["confidence"], "confidence", 0.5, 0.999)
    p["seed"] = _whole(p["seed"], "seed", 0)
    if "waves" in p:
        p["waves"] = _whole(p["waves"], "waves", 2, 40)
    if "driver_waves" in p:
        p["driver_waves"] = _whole(p["driver_waves"], "driver_waves", 1, 40)
    if "bootstrap" in p:
        p["bootstrap"] = _whole(p["bootstrap"], "bootstrap", 0, 100_000)
    if "top_actions" in p:
        p["top_actions"] = _whole(p["top_actions"], "top_actions", 1, 50)
    for name in ("csat_target", "fcr_target"):
        if name in p:
            p[name] = _number(p[name], name, 0, 100, allow_none=True)
    if "ces_target" in p:
        p["ces_target"] = _number(p["ces_target"], "ces_target", 1, 7, allow_none=True)
    if p["data"] is None or not isinstance(p["data"], (str, os.PathLike)):
        raise CXDataError("data must be a bundled dataset name or a file/folder path, got "
                          f"{p['data']!r}.")
    return p


def prepare(template: str, namespace: Mapping | None = None, **params) -> ReportContext:
    """Validate a report's parameters and load its data; the first code cell of every template.

    ``namespace`` is the notebook's ``globals()``: every user-set name must be a known parameter
    (papermill injects unknown names silently; here they are rejected). Wrong types, a period
    not in the data, an unknown segment or a missing file raise CXDataError with the fix, shown
    as the first output of the notebook.
    """
    try:
        merged = {**(_user_parameters(namespace) if namespace is not None else {}), **params}
        p = validate_parameters(template, merged)
        spec = template_spec(template)
        data = load_data(p["data"])
        frame = data.table(spec.table)
        waves = waves_of(frame)
        period = check_period(p["period"], waves)
        by, segment = check_segment(p["by"], p["segment"], frame)
    except CXDataError as err:
        _show_error(err)
        raise
    i = waves.index(period)
    ctx = ReportContext(template=spec.name, data=data, period=period,
                        previous=waves[i - 1] if i > 0 else None,
                        waves=waves[max(0, i - p.get("waves", 6) + 1): i + 1], by=by,
                        segment=segment, min_base=p["min_base"], confidence=p["confidence"],
                        seed=p["seed"], options={k: v for k, v in p.items()})
    ctx.base = base_count(frame, spec, period, by if segment is not None else None, segment)
    if ctx.base < ctx.min_base:
        ctx.suppressed = True
        ctx.reason = (f"{ctx.base} responses in {period} < minimum base {ctx.min_base}; "
                      "nothing is reported for this group")
    _setup_display()
    return ctx


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
        return get_ipython() is not None
    except ImportError:  # pragma: no cover
        return False


def _display(obj) -> None:
    if _in_ipython():
        from IPython.display import display
        display(obj)
    else:
        text = getattr(obj, "data", obj)
        print(text if isinstance(text, str) else obj)


def _md(text: str) -> None:
    from IPython.display import Markdown
    _display(Markdown(text))


def _html(text: str) -> None:
    from IPython.display import HTML
    _display(HTML(text))


def _show_error(err: Exception) -> None:
    if _in_ipython():
        _html('<div class="cx-callout"><b>Report parameters rejected.</b> '
              f"{html.escape(str(err))}</div>")


def _setup_display() -> None:
    """Seaborn styling and PNG figures (embedded as base64 in the HTML)."""
    import matplotlib
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook", palette="deep")
    matplotlib.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "axes.titleweight": "bold",
                                "axes.titlesize": 12, "figure.autolayout": False})
    if _in_ipython():
        try:
            from matplotlib_inline.backend_inline import set_matplotlib_formats
            set_matplotlib_formats("png")
        except Exception:  # pragma: no cover - only cosmetics
            pass
    pd.set_option("display.max_rows", 60)


def _show_figure(fig) -> None:
    import matplotlib.pyplot as plt
    fig.tight_layout()
    if _in_ipython():
        _display(fig)
    plt.close(fig)


def _table_html(frame: pd.DataFrame, note: str | None = None) -> str:
    body = frame.to_html(index=False, border=0, escape=True, na_rep="–", classes="cx-table")
    return body + (f'<p class="cx-note">{html.escape(note)}</p>' if note else "")


# -- headline KPIs ------------------------------------------------------------------------------

def kpi_table(ctx: ReportContext) -> pd.DataFrame:
    """Each KPI for the report's scope in the period, with its interval and the change vs the
    previous period (difference, interval, p-value). ``verdict`` calls a change ``up``/``down``
    only when the interval of the difference excludes zero; otherwise ``no change beyond the
    noise``. Groups below ``min_base`` are ``suppressed`` (NaN numbers)."""
    key = "kpi_table"
    if key in ctx.cache:
        return ctx.cache[key]
    from . import metrics
    rows = []
    for kpi in ctx.kpis:
        if not ctx.has_scope(kpi.table):
            continue
        frame = ctx.scope(kpi.table)
        if kpi.column not in frame.columns:
            continue
        cur = ctx.in_period(frame)[kpi.column]
        row = {"kpi": kpi.name, "period": ctx.period}
        if ctx.previous is not None:
            prev = ctx.in_period(frame, ctx.previous)[kpi.column]
            ch = metrics.compare(prev, cur, metric=kpi.metric, min_base=ctx.min_base,
                                 confidence=ctx.confidence, **kpi.kwargs)
            res = ch.b
            row.update(previous_period=ctx.previous, previous=ch.a.value, n_previous=ch.a.n,
                       change=ch.difference, change_low=ch.ci_low, change_high=ch.ci_high,
                       p_value=ch.p_value, significant=bool(ch.significant))
        else:
            res = kpi.compute(cur, ctx.min_base, ctx.confidence)
            row.update(previous_period=None, previous=np.nan, n_previous=0, change=np.nan,
                       change_low=np.nan, change_high=np.nan, p_value=np.nan, significant=False)
        row.update(value=res.value, ci_low=res.ci_low, ci_high=res.ci_high, n=res.n,
                   suppressed=bool(res.suppressed))
        row["verdict"] = _verdict(row)
        rows.append(row)
    cols = ["kpi", "period", "value", "ci_low", "ci_high", "n", "suppressed", "previous_period",
            "previous", "n_previous", "change", "change_low", "change_high", "p_value",
            "significant", "verdict"]
    out = pd.DataFrame(rows, columns=cols)
    ctx.cache[key] = out
    return out


def _verdict(row: Mapping) -> str:
    if row.get("suppressed"):
        return "suppressed"
    if row.get("previous_period") is None:
        return "no previous period"
    if not np.isfinite(row.get("change", np.nan)):
        return "previous period suppressed"
    if row.get("significant"):
        return "up" if row["change"] > 0 else "down"
    return "no change beyond the noise"


def _kpi(ctx: ReportContext, name: str) -> KPI:
    return next(k for k in ctx.kpis if k.name == name)


def kpi_cards(ctx: ReportContext) -> list[dict]:
    """KPI values formatted for the index page (recorded by :func:`record`)."""
    cards = []
    if ctx.suppressed:
        return cards
    pct = round(100 * ctx.confidence)
    for row in kpi_table(ctx).to_dict("records"):
        kpi = _kpi(ctx, row["kpi"])
        if row["suppressed"]:
            cards.append({"name": kpi.name, "text": "suppressed", "interval": f"n = {row['n']}",
                          "change_text": "", "direction": None, "value": None, "n": int(row["n"])})
            continue
        verdict = row["verdict"]
        if verdict in {"up", "down"}:
            arrow = "▲" if verdict == "up" else "▼"
            change = f"{arrow} {kpi.fmt(row['change'], signed=True)} vs {row['previous_period']}"
        elif verdict == "no change beyond the noise":
            change = f"no change beyond the noise vs {row['previous_period']}"
        else:
            change = verdict
        cards.append({"name": kpi.name, "text": kpi.fmt(row["value"]),
                      "interval": f"{pct}% CI {kpi.fmt(row['ci_low'])} to {kpi.fmt(row['ci_high'])}"
                                  f" · n = {row['n']}",
                      "change_text": change,
                      "direction": verdict if verdict in {"up", "down"} else None,
                      "value": _num(row["value"]), "ci_low": _num(row["ci_low"]),
                      "ci_high": _num(row["ci_high"]), "n": int(row["n"]),
                      "change": _num(row["change"]), "significant": bool(row["significant"])})
    return cards


def _signed(value: float, digits: int = 2, suffix: str = "") -> str:
    """'+1.23' / '−1.23' with a true minus sign."""
    return f"{value:+.{digits}f}{suffix}".replace("-", "−")


def _eur(value: float) -> str:
    """'€1,234' / '−€1,234'."""
    return ("−" if value < 0 else "") + f"€{abs(value):,.0f}"


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def _kpi_display(ctx: ReportContext) -> pd.DataFrame:
    pct = round(100 * ctx.confidence)
    rows = []
    for row in kpi_table(ctx).to_dict("records"):
        kpi = _kpi(ctx, row["kpi"])
        if row["suppressed"]:
            rows.append({"KPI": kpi.name, ctx.period: "suppressed", f"{pct}% CI": "",
                         "n": row["n"], f"vs {row['previous_period'] or '–'}": "",
                         "change": "suppressed (base too small)"})
            continue
        verdict = row["verdict"]
        change = (f"{kpi.fmt(row['change'], signed=True)} ({kpi.fmt(row['change_low'], signed=True)}"
                  f" to {kpi.fmt(row['change_high'], signed=True)})"
                  if np.isfinite(row["change"]) else "–")
        label = {"up": "▲ up", "down": "▼ down"}.get(verdict, verdict)
        rows.append({"KPI": kpi.name, ctx.period: kpi.fmt(row["value"]),
                     f"{pct}% CI": f"{kpi.fmt(row['ci_low'])} to {kpi.fmt(row['ci_high'])}",
                     "n": row["n"], f"vs {row['previous_period'] or '–'}": change,
                     "change": label})
    return pd.DataFrame(rows)


def kpi_sentences(ctx: ReportContext) -> list[str]:
    """One plain-language sentence per KPI."""
    out = []
    pct = round(100 * ctx.confidence)
    for row in kpi_table(ctx).to_dict("records"):
        kpi = _kpi(ctx, row["kpi"])
        if row["suppressed"]:
            out.append(f"**{kpi.name}** is suppressed: {row['n']} answers are fewer than the "
                       f"minimum base of {ctx.min_base}.")
            continue
        s = (f"**{kpi.name}** is **{kpi.fmt(row['value'])}** ({pct}% CI {kpi.fmt(row['ci_low'])} "
             f"to {kpi.fmt(row['ci_high'])}, n = {row['n']})")
        v = row["verdict"]
        if v in {"up", "down"}:
            s += (f", {v} {kpi.fmt(abs(row['change']), signed=False)} points on "
                  f"{row['previous_period']} — "
                  "a change larger than the noise.")
        elif v == "no change beyond the noise":
            s += (f"; the {kpi.fmt(row['change'], signed=True)} move since {row['previous_period']} "
                  "is within the noise, so it is not called a change.")
        else:
            s += f"; {v}."
        out.append(s)
    return out


def show_kpis(ctx: ReportContext) -> None:
    """Headline KPI table (interval, change vs the previous period) and one sentence each."""
    if _suppressed_note(ctx):
        return
    table = _kpi_display(ctx)
    if table.empty:
        _md("_No headline KPI can be computed from this data._")
        return
    _html(_table_html(table, note="Changes are called up or down only when their "
                               f"{round(100 * ctx.confidence)}% interval excludes zero."))
    _md("\n".join(f"- {s}" for s in kpi_sentences(ctx)))


def _suppressed_note(ctx: ReportContext) -> bool:
    if ctx.suppressed:
        _html(f'<div class="cx-callout">Suppressed: {html.escape(ctx.reason or "")}.</div>')
    return ctx.suppressed


def show_header(ctx: ReportContext) -> None:
    """Scope line: who and what the report covers, its base and how to read it."""
    spec = ctx.spec
    scope = "the whole company" if ctx.segment is None else f"{ctx.label} only"
    bench = "" if ctx.segment is None else " The company figures are shown as the benchmark."
    _md(f"# {spec.title}: {ctx.label}, {ctx.period}\n\n"
        f"Data **{ctx.data.name}**, covering {scope}: **{ctx.base:,}** answered "
        f"{'surveys' if spec.table == 'survey' else 'post-contact surveys'} in {ctx.period}."
        f"{bench} Every figure carries its {round(100 * ctx.confidence)}% confidence interval; "
        f"groups with fewer than {ctx.min_base} answers are suppressed.")
    _suppressed_note(ctx)


# -- trend over waves ---------------------------------------------------------------------------

def trend_table(ctx: ReportContext, kpi: str | None = None) -> pd.DataFrame:
    """A KPI per wave over the report's last ``waves`` waves: the report's scope and, for a
    segment report, the company benchmark. Columns: scope, wave, value, ci_low, ci_high, n,
    suppressed."""
    from . import metrics
    k = _kpi(ctx, kpi) if kpi else ctx.kpis[0]
    scopes = [(ctx.label, ctx.scope(k.table))]
    if ctx.segment is not None:
        scopes.append(("Company", ctx.company(k.table)))
    parts = []
    for label, frame in scopes:
        sub = frame.loc[frame["wave"].astype(str).isin(ctx.waves)]
        tab = metrics.table(sub.assign(wave=sub["wave"].astype(str)), k.column, metric=k.metric,
                            by="wave", min_base=ctx.min_base, confidence=ctx.confidence, **k.kwargs)
        tab.insert(0, "scope", label)
        parts.append(tab[["scope", "wave", "value", "ci_low", "ci_high", "n", "suppressed"]])
    out = pd.concat(parts, ignore_index=True)
    out["kpi"] = k.name
    return out


def plot_trend(table: pd.DataFrame, ax=None, title: str | None = None, legend: bool = True):
    """Line per scope with its confidence band; suppressed waves are gaps."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.4))
    waves = sorted(table["wave"].unique())
    x = {w: i for i, w in enumerate(waves)}
    colors = {"Company": "#7b8794"}
    for i, (scope, grp) in enumerate(table.groupby("scope", sort=False)):
        color = colors.get(scope, plt.cm.tab10(0 if i == 0 else i))
        xs = grp["wave"].map(x)
        style = "--" if scope == "Company" and table["scope"].nunique() > 1 else "-"
        ax.plot(xs, grp["value"], style, marker="o", color=color, label=scope, lw=2)
        ax.fill_between(xs, grp["ci_low"], grp["ci_high"], color=color, alpha=0.15, lw=0)
    ax.set_xticks(range(len(waves)), waves)
    kpi = table["kpi"].iloc[0] if "kpi" in table and len(table) else ""
    ax.set_ylabel(kpi)
    ax.set_title(title or f"{kpi} by wave, with 95% confidence band")
    if table["scope"].nunique() > 1 and legend:
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def show_trend(ctx: ReportContext) -> None:
    """Trend of every headline KPI over the last waves (figure per KPI row)."""
    if _suppressed_note(ctx):
        return
    import matplotlib.pyplot as plt
    kpis = [k for k in ctx.kpis if ctx.has_scope(k.table)]
    fig, axes = plt.subplots(len(kpis), 1, figsize=(8.5, 2.7 * len(kpis)), sharex=True,
                             squeeze=False)
    pct = round(100 * ctx.confidence)
    for i, (ax, k) in enumerate(zip(axes[:, 0], kpis)):
        plot_trend(trend_table(ctx, k.name), ax=ax, title=f"{k.name} ({k.description})",
                   legend=i == 0)
        ax.title.set_fontsize(10)
    fig.suptitle(f"{ctx.label}: headline KPIs over the last {len(ctx.waves)} waves "
                 f"(shaded: {pct}% CI)", fontsize=12, fontweight="bold")
    _show_figure(fig)
    gaps = pd.concat([trend_table(ctx, k.name) for k in kpis], ignore_index=True)
    gaps = gaps.loc[gaps["suppressed"]]
    if len(gaps):
        listed = "; ".join(f"{scope} {kpi}: {', '.join(sorted(g['wave']))}" for (scope, kpi), g in
                           gaps.groupby(["scope", "kpi"], sort=False))
        _md(f"_Points left out had fewer than {ctx.min_base} answers (suppressed) — {listed}._")


# -- segment vs company -------------------------------------------------------------------------

def comparison_table(ctx: ReportContext) -> pd.DataFrame:
    """Company report: each KPI per segment of ``by`` in the period (suppressed below the base).
    Segment report: the segment beside the company benchmark; ``verdict`` says whether the
    segment differs from the rest of the company by more than the noise."""
    from . import metrics
    rows = []
    if ctx.segment is None:
        if ctx.by is None:
            return pd.DataFrame()
        for k in ctx.kpis:
            frame = ctx.in_period(ctx.company(k.table))
            if ctx.by not in frame.columns:
                continue
            tab = metrics.table(frame.assign(**{ctx.by: frame[ctx.by].astype(str)}), k.column,
                                metric=k.metric, by=ctx.by, min_base=ctx.min_base,
                                confidence=ctx.confidence, **k.kwargs)
            for r in tab.to_dict("records"):
                rows.append({"segment": r[ctx.by], "kpi": k.name, "value": r["value"],
                             "ci_low": r["ci_low"], "ci_high": r["ci_high"], "n": r["n"],
                             "suppressed": bool(r["suppressed"])})
        return pd.DataFrame(rows)
    for k in ctx.kpis:
        if not ctx.has_scope(k.table):
            continue
        company = ctx.in_period(ctx.company(k.table))
        inside = company[ctx.by].astype(str) == ctx.segment
        ch = metrics.compare(company.loc[~inside, k.column], company.loc[inside, k.column],
                             metric=k.metric, min_base=ctx.min_base, confidence=ctx.confidence,
                             **k.kwargs)
        total = k.compute(company[k.column], ctx.min_base, ctx.confidence)
        seg = ch.b
        if ch.suppressed:
            verdict = "suppressed"
        elif ch.significant:
            verdict = "above the company" if ch.difference > 0 else "below the company"
        else:
            verdict = "in line with the company (within the noise)"
        rows.append({"kpi": k.name, "segment": seg.value, "segment_low": seg.ci_low,
                     "segment_high": seg.ci_high, "n": seg.n, "company": total.value,
                     "company_low": total.ci_low, "company_high": total.ci_high,
                     "difference": seg.value - total.value, "p_value": ch.p_value,
                     "significant": bool(ch.significant), "suppressed": bool(seg.suppressed),
                     "verdict": verdict})
    return pd.DataFrame(rows)


def show_comparison(ctx: ReportContext) -> None:
    """Segment vs company benchmark, or (company report) the KPIs of every segment."""
    if _suppressed_note(ctx):
        return
    table = comparison_table(ctx)
    if table.empty:
        _md("_This report was run without a segment split, so there is no segment comparison._")
        return
    pct = round(100 * ctx.confidence)
    if ctx.segment is None:
        shown = {}
        for r in table.to_dict("records"):
            k = _kpi(ctx, r["kpi"])
            cell = ("suppressed" if r["suppressed"] else
                    f"{k.fmt(r['value'])} ({k.fmt(r['ci_low'])} to {k.fmt(r['ci_high'])})")
            shown.setdefault(r["segment"], {ctx.by.replace("_", " ").title(): r["segment"]})
            shown[r["segment"]][f"{k.name} ({pct}% CI)"] = cell
            if k is ctx.kpis[0]:
                shown[r["segment"]]["n"] = r["n"]
        _html(_table_html(pd.DataFrame(list(shown.values())),
                          note=f"{ctx.period}. Segments with fewer than {ctx.min_base} answers "
                               "are suppressed."))
        _show_figure(_plot_segments(ctx, table))
        return
    shown = []
    for r in table.to_dict("records"):
        k = _kpi(ctx, r["kpi"])
        shown.append({"KPI": k.name,
                      ctx.label: "suppressed" if r["suppressed"] else
                      f"{k.fmt(r['segment'])} ({k.fmt(r['segment_low'])} to "
                      f"{k.fmt(r['segment_high'])})",
                      "Company": f"{k.fmt(r['company'])} ({k.fmt(r['company_low'])} to "
                                 f"{k.fmt(r['company_high'])})",
                      "difference": "" if r["suppressed"] else k.fmt(r["difference"], signed=True),
                      "verdict": r["verdict"]})
    _html(_table_html(pd.DataFrame(shown), note=f"{ctx.period}, {pct}% intervals. The verdict "
                      "tests this segment against the rest of the company."))


def _plot_segments(ctx: ReportContext, table: pd.DataFrame):
    import matplotlib.pyplot as plt
    k = ctx.kpis[0]
    sub = table.loc[(table["kpi"] == k.name)].sort_values("value")
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(sub) + 1.4))
    ok = ~sub["suppressed"]
    y = np.arange(len(sub))
    ax.errorbar(sub.loc[ok, "value"], y[ok.to_numpy()],
                xerr=[sub.loc[ok, "value"] - sub.loc[ok, "ci_low"],
                      sub.loc[ok, "ci_high"] - sub.loc[ok, "value"]],
                fmt="o", color="#2b6cb0", capsize=4, lw=2)
    total = kpi_table(ctx)
    total = total.loc[total["kpi"] == k.name, "value"]
    if len(total) and np.isfinite(total.iloc[0]):
        ax.axvline(total.iloc[0], color="#7b8794", ls="--", lw=1.5, label="Company")
        ax.legend(frameon=False, loc="lower right")
    ax.set_yticks(y, [s + ("  (suppressed)" if sup else "") for s, sup in
                      zip(sub["segment"], sub["suppressed"])])
    ax.set_xlabel(f"{k.name}, {ctx.period}")
    ax.set_title(f"{k.name} by {ctx.by} with {round(100 * ctx.confidence)}% intervals")
    return fig


# -- churn and value link -----------------------------------------------------------------------

CHURN_HORIZON = 12  # months: churn within a year of the survey answer (matches annual revenue)


def analysis_frame(ctx: ReportContext) -> pd.DataFrame | None:
    """Survey answers of the report's scope joined to what the customer did next
    (``cx.retention.analysis_frame``, churn within ``CHURN_HORIZON`` months); None without a
    customers table."""
    if "analysis" in ctx.cache:
        return ctx.cache["analysis"]
    from . import retention
    out = None
    if ctx.has_scope("customers") and ctx.has_scope("survey"):
        contacts = ctx.scope("contacts") if ctx.has_scope("contacts") else None
        end = (ctx.data.truth or {}).get("observation_end")
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CXWarning)
            out = retention.analysis_frame(customers=ctx.scope("customers"),
                                           survey=ctx.scope("survey"), contacts=contacts,
                                           horizon=CHURN_HORIZON, observation_end=end)
        ctx.notes += [str(w.message) for w in caught if issubclass(w.category, CXWarning)]
    ctx.cache["analysis"] = out
    return out


def churn_table(ctx: ReportContext) -> pd.DataFrame:
    """Churn within CHURN_HORIZON months by NPS group (Wilson intervals), over the answers whose
    outcome is already known, with the group's mean monthly revenue; groups below the minimum
    base are suppressed."""
    from . import retention
    frame = analysis_frame(ctx)
    flag = f"churn_{CHURN_HORIZON}m"
    if frame is None or flag not in frame.columns:
        return pd.DataFrame()
    # Only answers followed for the whole horizon: for recent answers the churners are known
    # before the stayers, so keeping every decided outcome would inflate the churn rates.
    end = pd.Timestamp(frame.attrs.get("observation_end") or frame["survey_date"].max())
    full = pd.to_datetime(frame["survey_date"]) + pd.DateOffset(months=CHURN_HORIZON) <= end
    known = frame.loc[full & frame[flag].notna()]
    if len(known) < ctx.min_base:
        return pd.DataFrame()
    res = retention.churn_by_group(known, "nps_group", churned=flag, confidence=ctx.confidence)
    out = res.summary().copy()
    revenue = known.groupby(known["nps_group"].astype(str), observed=True)["monthly_revenue"].mean()
    out["monthly_revenue"] = out["nps_group"].astype(str).map(revenue)
    out["suppressed"] = out["n"] < ctx.min_base
    for col in ("churn_rate", "ci_low", "ci_high", "monthly_revenue"):
        out.loc[out["suppressed"], col] = np.nan
    out.attrs["waves"] = sorted(known["wave"].astype(str).unique())
    out.attrs["p_value"] = getattr(res, "test", {}).get("p_value") if isinstance(
        getattr(res, "test", None), dict) else None
    return out


def show_churn(ctx: ReportContext) -> None:
    """Who leaves: churn within six months of answering, by NPS group."""
    if _suppressed_note(ctx):
        return
    table = churn_table(ctx)
    if table.empty:
        _md("_Churn cannot be linked here: the data has no customers table, or too few answers "
            "with a known outcome._")
        return
    pct = round(100 * ctx.confidence)
    waves = table.attrs.get("waves", [])
    shown = pd.DataFrame({
        "NPS group": table["nps_group"].astype(str),
        "answers": table["n"],
        f"churn in {CHURN_HORIZON} months": table["churn_rate"].map(lambda v: "suppressed" if not
                                                                  np.isfinite(v) else f"{v:.1f}%"),
        f"{pct}% CI": [("" if not np.isfinite(lo) else f"{lo:.1f}% to {hi:.1f}%")
                       for lo, hi in zip(table["ci_low"], table["ci_high"])],
        "mean monthly revenue": table["monthly_revenue"].map(
            lambda v: "–" if not np.isfinite(v) else f"€{v:,.2f}")})
    _html(_table_html(shown, note=f"Answers from {waves[0]} to {waves[-1]}: those followed for "
                      f"a full {CHURN_HORIZON} months." if waves else None))
    ok = table.loc[~table["suppressed"]]
    if len(ok) >= 2:
        first, last = ok.iloc[0], ok.iloc[-1]
        overlap = first["ci_low"] <= last["ci_high"] and last["ci_low"] <= first["ci_high"]
        ratio = first["churn_rate"] / last["churn_rate"] if last["churn_rate"] > 0 else np.nan
        _md(f"{first['nps_group']}s left at **{first['churn_rate']:.1f}%** within {CHURN_HORIZON} "
            f"months against **{last['churn_rate']:.1f}%** for {last['nps_group'].lower()}s"
            + (f" — {ratio:.1f} times as often." if np.isfinite(ratio) else ".")
            + (" The intervals overlap, so treat the gap with care." if overlap else ""))
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 2.8))
    colors = ["#c53030", "#b7791f", "#2f855a"][:len(ok)]
    ax.barh(ok["nps_group"].astype(str), ok["churn_rate"], color=colors,
            xerr=[ok["churn_rate"] - ok["ci_low"], ok["ci_high"] - ok["churn_rate"]], capsize=4)
    ax.set_xlabel(f"% churned within {CHURN_HORIZON} months of answering")
    ax.set_title(f"{ctx.label}: churn by NPS group ({pct}% CI)")
    _show_figure(fig)


# -- recorded values for the index page ------------------------------------------------------

def record(ctx: ReportContext) -> dict:
    """Record the report's status and KPI cards as a JSON output the runner reads for the index
    page and the manifest (the cell is removed from the stakeholder HTML)."""
    payload = {"status": "suppressed" if ctx.suppressed else "ok", "reason": ctx.reason,
               "label": ctx.label, "period": ctx.period, "previous": ctx.previous,
               "base": int(ctx.base), "by": ctx.by, "segment": ctx.segment,
               "kpis": kpi_cards(ctx), "notes": list(ctx.notes)}
    if _in_ipython():
        from IPython.display import display
        display({RECORD_MIME: payload}, raw=True)
    return payload


# -- drivers ------------------------------------------------------------------------------------

TOUCHPOINTS = ("onboarding", "network_reliability", "network_speed", "billing_clarity",
               "billing_accuracy", "price_value", "support_resolution", "support_speed",
               "digital_selfservice", "shop_experience")
DRIVER_MIN_BASE = 100   # answers needed before driver importances are shown at all
#: Touchpoints rated by fewer of the pooled answers than this share (e.g. onboarding: new
#: customers only) stay out of the driver model, which uses complete answers (listwise): pairwise
#: correlations over different respondents make bootstrap R² fall outside 0–1.
DRIVER_MIN_COVERAGE = 0.5


def driver_frame(ctx: ReportContext) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Survey answers of the scope pooled over the last ``driver_waves`` waves, the touchpoints
    to analyse and the ones left out (fewer than ``min_base`` answers in the pool)."""
    survey = ctx.scope("survey")
    k = ctx.options.get("driver_waves", 4)
    i = waves_of(ctx.company("survey")).index(ctx.period)
    pool = waves_of(ctx.company("survey"))[max(0, i - k + 1): i + 1]
    frame = survey.loc[survey["wave"].astype(str).isin(pool)]
    present = [t for t in TOUCHPOINTS if t in frame.columns]
    share = {t: float(frame[t].notna().mean()) if len(frame) else 0.0 for t in present}
    used = [t for t in present if share[t] >= DRIVER_MIN_COVERAGE]
    left = [t for t in present if share[t] < DRIVER_MIN_COVERAGE]
    frame = frame.dropna(subset=["ltr", *used])
    frame.attrs["waves"] = pool
    frame.attrs["coverage"] = share
    return frame, used, left


def driver_result(ctx: ReportContext):
    """``cx.drivers.analyze`` (LMG, pairwise deletion, bootstrap intervals, fixed seed) on the
    report's scope; None when too few answers (suppressed)."""
    if "drivers" in ctx.cache:
        return ctx.cache["drivers"]
    from . import drivers
    frame, used, left = driver_frame(ctx)
    res = None
    if len(used) >= 2 and len(frame) >= max(DRIVER_MIN_BASE, ctx.min_base, 10 * len(used)):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CXWarning)
            labels = {t: _nice(t) for t in used}         # readable names in tables and charts
            res = drivers.analyze(frame[["ltr", *used]].rename(columns=labels), "ltr",
                                  list(labels.values()), bootstrap=ctx.options.get("bootstrap", 200),
                                  seed=ctx.seed, conf=ctx.confidence, progress=False)
    ctx.cache["drivers"] = res
    ctx.cache["drivers_left_out"] = left
    ctx.cache["drivers_waves"] = frame.attrs.get("waves", [])
    ctx.cache["drivers_coverage"] = frame.attrs.get("coverage", {})
    return res


def show_drivers(ctx: ReportContext) -> None:
    """Which touchpoints drive the likelihood to recommend: importance with intervals and the
    importance–performance map."""
    if _suppressed_note(ctx):
        return
    res = driver_result(ctx)
    waves = ctx.cache.get("drivers_waves", [])
    if res is None:
        _html(f'<div class="cx-callout">Driver analysis suppressed: it needs at least '
              f"{max(DRIVER_MIN_BASE, ctx.min_base)} answers over {', '.join(waves)}.</div>")
        return
    import matplotlib.pyplot as plt
    lo, hi = res.r2_ci
    pct = round(100 * ctx.confidence)
    _md(f"LMG (Shapley) relative importance of each touchpoint rating for likelihood to recommend, "
        f"from the **{res.n:,}** answers over {waves[0]}–{waves[-1]} that rated every touchpoint "
        f"below. Together the touchpoints "
        f"explain **{res.r2:.0%}** of the variation in the score"
        + (f" ({pct}% CI {lo:.0%} to {hi:.0%})" if np.isfinite(lo) else "") + ". Bars show each "
        f"touchpoint's share of that, with {pct}% bootstrap intervals ({res.bootstrap} resamples).")
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(res.importance) + 1.6))
    res.plot(ax=ax)
    ax.set_title(f"{ctx.label}: share of explained variance in likelihood to recommend "
                 f"({pct}% CI)")
    _show_figure(fig)
    fig, ax = plt.subplots(figsize=(9, 6.2))
    res.plot_quadrant(ax=ax)
    if ax.get_legend() is not None:      # keep the legend off the points
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
    ax.set_title(f"{ctx.label}: importance × performance (mean rating 1–10)")
    _show_figure(fig)
    quad = res.quadrant()
    fix = quad.loc[quad["quadrant"] == "Fix"]
    if len(fix):
        items = ", ".join(f"**{n}**" + ("" if c else " (uncertain)")
                          for n, c in zip(fix.index, fix["confident"]))
        _md(f"**Fix first** (important but rated below average): {items}.")
    left = ctx.cache.get("drivers_left_out", [])
    cover = ctx.cache.get("drivers_coverage", {})
    if left:
        _md("_Rated by too few customers to enter the model (under "
            f"{DRIVER_MIN_COVERAGE:.0%} of answers): "
            + ", ".join(f"{_nice(t).lower()} ({cover.get(t, 0):.0%})" for t in left) + "._")


# -- revenue at risk ----------------------------------------------------------------------------

def revenue_at_risk(ctx: ReportContext):
    """Annual revenue at risk from experience-linked churn: ``cx.value.revenue_at_risk`` with the
    12-month churn by NPS group (baseline: promoters' churn), applied to the scope's current
    customers split by this quarter's NPS-group shares, at each group's annual revenue."""
    if "rar" in ctx.cache:
        return ctx.cache["rar"]
    from . import retention, value
    out = None
    table = churn_table(ctx)
    if not table.empty and not table["suppressed"].any() and ctx.has_scope("customers"):
        customers = ctx.scope("customers")
        active = int((customers["churned"] == 0).sum()) if "churned" in customers else len(customers)
        current = ctx.in_period(ctx.scope("survey"))
        groups = retention.nps_group(current["ltr"]).astype(str).value_counts(normalize=True)
        mix = {g: float(groups.get(g, 0.0)) * active for g in table["nps_group"].astype(str)}
        churn = table.assign(nps_group=table["nps_group"].astype(str))
        if all(v > 0 for v in mix.values()):
            out = value.revenue_at_risk(
                churn, "nps_group", value={g: 12 * v for g, v in
                                           zip(churn["nps_group"], churn["monthly_revenue"])},
                customers=mix, baseline="Promoter", scale="percent", level=ctx.confidence)
            out.table.attrs["active"] = active
    ctx.cache["rar"] = out
    return out


def show_value(ctx: ReportContext) -> None:
    """Revenue at risk: the annual revenue of the extra churn among passives and detractors."""
    if _suppressed_note(ctx):
        return
    res = revenue_at_risk(ctx)
    if res is None:
        _md("_Revenue at risk is not shown: it needs customers with revenue and enough answers "
            f"in every NPS group (minimum base {ctx.min_base})._")
        return
    pct = round(100 * ctx.confidence)
    t = res.table
    tot = res.total
    _md(f"If passives and detractors churned like promoters do, **{ctx.label}** would keep about "
        f"**{_eur(tot['revenue_at_risk'])}** a year ({pct}% CI {_eur(tot['ci_low'])} to "
        f"{_eur(tot['ci_high'])}) — the revenue at risk from the experience, for "
        f"{t.attrs.get('active', 0):,} active customers split by this quarter's NPS mix.")
    shown = pd.DataFrame({
        "NPS group": t["group"],
        "customers": t["customers"].round().astype(int).map("{:,}".format),
        "extra churn vs promoters": [_signed(100 * v, 1, " pts") for v in t["linked_churn"]],
        "annual revenue each": t["value"].map(_eur),
        "revenue at risk": t["revenue_at_risk"].map(_eur),
        f"{pct}% CI": [f"{_eur(a)} to {_eur(b)}" for a, b in zip(t["ci_low"], t["ci_high"])]})
    _html(_table_html(shown, note="Promoters are the baseline (no revenue at risk by "
                                  "definition). Intervals combine the churn-rate intervals "
                                  "(MOVER)."))


# -- team scorecard: goals cascaded from the company target -------------------------------------

from .frontline import QA_ITEMS  # the call-quality scorecard items

#: Default company targets when none is given: this quarter's company value plus this stretch.
DEFAULT_STRETCH = {"CSAT": 5.0, "FCR": 5.0, "CES": 0.2}
_KPI_RANGE = {"CSAT": (0.0, 100.0), "FCR": (0.0, 100.0), "CES": (1.0, 7.0)}
_TARGET_PARAM = {"CSAT": "csat_target", "FCR": "fcr_target", "CES": "ces_target"}


def cascade_targets(current: pd.DataFrame, company_target: float, low: float = 0.0,
                    high: float = 100.0) -> pd.DataFrame:
    """Equal-uplift cascade of a company target to units: the table of
    :func:`cxlab.frontline.cascade_targets` (``uplift``, ``target``; ``company_now`` in ``attrs``).
    A target clipped to the scale is kept clipped without a warning in the report."""
    import warnings

    from . import frontline
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CXWarning)
        return frontline.cascade_targets(current, company_target, low, high).table


def team_values(ctx: ReportContext, kpi: KPI) -> pd.DataFrame:
    """The KPI per team in the period: team, n, value (suppressed teams keep value NaN)."""
    from . import metrics
    frame = ctx.in_period(ctx.company(kpi.table))
    tab = metrics.table(frame.assign(team=frame["team"].astype(str)), kpi.column, metric=kpi.metric,
                        by="team", min_base=1, confidence=ctx.confidence, **kpi.kwargs)
    return tab[["team", "n", "value"]]


def target_table(ctx: ReportContext) -> pd.DataFrame:
    """Per KPI: company now and target, the cascaded target of every team, and (team report) the
    team's value with its interval and whether it is on target beyond the noise."""
    rows = []
    kt = kpi_table(ctx).set_index("kpi")
    for k in ctx.kpis:
        if k.name not in kt.index or "team" not in ctx.company(k.table).columns:
            continue
        teams = team_values(ctx, k)
        company_now = float(np.average(teams["value"].dropna(),
                                       weights=teams.loc[teams["value"].notna(), "n"]))
        given = ctx.options.get(_TARGET_PARAM[k.name])
        lo, hi = _KPI_RANGE[k.name]
        target = given if given is not None else min(hi, company_now + DEFAULT_STRETCH[k.name])
        cascade = cascade_targets(teams, target, lo, hi)
        for r in cascade.to_dict("records"):
            if ctx.segment is not None and r["team"] != ctx.segment:
                continue
            row = {"kpi": k.name, "company_now": company_now, "company_target": target,
                   "target_source": "given" if given is not None else
                   f"company now + {DEFAULT_STRETCH[k.name]:g}", "team": r["team"],
                   "team_n": int(r["n"]), "team_now": r["value"], "team_target": r["target"]}
            if ctx.segment is not None:
                own = kt.loc[k.name]
                row.update(team_now=own["value"], team_low=own["ci_low"], team_high=own["ci_high"],
                           suppressed=bool(own["suppressed"]))
                row["status"] = _target_status(row)
            else:
                row["suppressed"] = r["n"] < ctx.min_base
                if row["suppressed"]:
                    row["team_now"] = row["team_target"] = np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def _target_status(row: Mapping) -> str:
    if row.get("suppressed"):
        return "suppressed"
    if row["team_low"] >= row["team_target"]:
        return "on target"
    if row["team_high"] < row["team_target"]:
        return "below target"
    return "within the noise of the target"


def show_targets(ctx: ReportContext) -> None:
    """Company target -> team targets, and (team report) the team against them."""
    if _suppressed_note(ctx):
        return
    table = target_table(ctx)
    if table.empty:
        _md("_No team column in the data: targets cannot be cascaded._")
        return
    pct = round(100 * ctx.confidence)
    if ctx.segment is None:
        wide = {}
        for r in table.to_dict("records"):
            k = _kpi(ctx, r["kpi"])
            d = wide.setdefault(r["team"], {"Team": r["team"]})
            d[f"{k.name} now"] = "suppressed" if r["suppressed"] else k.fmt(r["team_now"])
            d[f"{k.name} target"] = "" if r["suppressed"] else k.fmt(r["team_target"])
        heads = table.drop_duplicates("kpi")
        _md("Company targets for " + ctx.period + ": " + "; ".join(
            f"**{r['kpi']} {_kpi(ctx, r['kpi']).fmt(r['company_target'])}** (now "
            f"{_kpi(ctx, r['kpi']).fmt(r['company_now'])}; {r['target_source']})"
            for r in heads.to_dict("records")) + ". Each team gets the same uplift, so when every "
            "team meets its target the company meets its own.")
        _html(_table_html(pd.DataFrame(list(wide.values())),
                          note=f"Teams with fewer than {ctx.min_base} answers are suppressed."))
        return
    shown = []
    for r in table.to_dict("records"):
        k = _kpi(ctx, r["kpi"])
        shown.append({"KPI": k.name, "company target": k.fmt(r["company_target"]),
                      "team target": k.fmt(r["team_target"]),
                      f"team {ctx.period} ({pct}% CI)": "suppressed" if r["suppressed"] else
                      f"{k.fmt(r['team_now'])} ({k.fmt(r['team_low'])} to {k.fmt(r['team_high'])})",
                      "status": r["status"]})
    _html(_table_html(pd.DataFrame(shown), note="On target / below target only when the whole "
                      "interval is on one side of the target."))
    sources = "; ".join(f"{r['kpi']} " + ("set for this report" if r["target_source"] == "given"
                                          else r["target_source"])
                        for r in table.to_dict("records"))
    _md(f"Company targets: {sources}. The team's target is its own current value plus the "
        "uplift the company needs.")


# -- call-quality scorecard ---------------------------------------------------------------------

def scorecard_table(ctx: ReportContext) -> pd.DataFrame:
    """Mean score (1–5) of each call-quality item, the team's evaluated calls in the pooled
    driver waves beside the company's; suppressed below the minimum base."""
    from . import metrics
    frame, _ = _scorecard_frame(ctx, ctx.scope("contacts"))
    company, _ = _scorecard_frame(ctx, ctx.company("contacts"))
    rows = []
    for item in [i for i in QA_ITEMS if i in frame.columns]:
        if frame[item].notna().sum() == 0:
            continue        # this scope's calls are not evaluated on the item
        own = metrics.mean(frame[item], scale=(1, 5), min_base=ctx.min_base, confidence=ctx.confidence)
        ref = metrics.mean(company[item], scale=(1, 5), min_base=ctx.min_base,
                           confidence=ctx.confidence)
        rows.append({"item": item, "value": own.value, "ci_low": own.ci_low, "ci_high": own.ci_high,
                     "n": own.n, "suppressed": own.suppressed, "company": ref.value})
    return pd.DataFrame(rows)


def _scorecard_frame(ctx: ReportContext, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    waves = waves_of(ctx.company("contacts"))
    i = waves.index(ctx.period)
    pool = waves[max(0, i - ctx.options.get("driver_waves", 4) + 1): i + 1]
    return frame.loc[frame["wave"].astype(str).isin(pool)], pool


def scorecard_validity(ctx: ReportContext):
    """:func:`cxlab.frontline.scorecard_validity` (items labelled for readers) among the team's
    evaluated and surveyed calls in the pooled driver waves; the company's when the team has
    fewer than ``DRIVER_MIN_BASE``. Returns (result or None, scope label)."""
    if "qa_validity" in ctx.cache:
        return ctx.cache["qa_validity"]
    from . import frontline
    out = (None, None)
    for label, frame in ((ctx.label, ctx.scope("contacts")), ("Company", ctx.company("contacts"))):
        sub, _ = _scorecard_frame(ctx, frame)
        items = [q for q in QA_ITEMS if q in sub.columns]
        used = sub.dropna(subset=[*items, "csat"]) if items and "csat" in sub else sub.iloc[:0]
        if len(used) >= max(DRIVER_MIN_BASE, ctx.min_base):
            labels = {q: _nice(q.removeprefix("qa_")) for q in items}
            out = (frontline.scorecard_validity(
                sub[["csat", *items]].rename(columns=labels), "csat", list(labels.values()),
                bootstrap=ctx.options.get("bootstrap", 200), seed=ctx.seed,
                confidence=ctx.confidence, min_n=len(used), progress=False), label)
            break
    ctx.cache["qa_validity"] = out
    return out


def scorecard_drivers(ctx: ReportContext):
    """Relative importance (LMG, bootstrap CI) of the call-quality items for post-contact CSAT:
    the ``DriverResult`` of :func:`scorecard_validity`. Returns (result or None, scope label)."""
    res, label = scorecard_validity(ctx)
    return (None if res is None else res.drivers), label


def show_scorecard(ctx: ReportContext) -> None:
    """The team's call-quality items and whether they drive its customers' satisfaction."""
    if _suppressed_note(ctx):
        return
    table = scorecard_table(ctx)
    _, pool = _scorecard_frame(ctx, ctx.company("contacts"))
    if table.empty or table["n"].max() == 0:
        _md(f"_{ctx.label}'s calls are not quality-evaluated (no scorecard items in "
            f"{pool[0]}–{pool[-1]})._")
        return
    pct = round(100 * ctx.confidence)
    shown = pd.DataFrame({
        "item": table["item"].str.removeprefix("qa_").str.replace("_", " "),
        f"{ctx.label}": ["suppressed" if s else f"{v:.2f} ({lo:.2f} to {hi:.2f})" for v, lo, hi, s in
                         zip(table["value"], table["ci_low"], table["ci_high"], table["suppressed"])],
        "evaluated calls": table["n"]})
    if ctx.segment is not None:
        shown["company"] = table["company"].map(lambda v: f"{v:.2f}")
    _html(_table_html(shown, note=f"Mean score 1–5 with {pct}% CI, calls evaluated in "
                                  f"{pool[0]}–{pool[-1]}."))
    validity, scope = scorecard_validity(ctx)
    if validity is None:
        _md(f"_Too few evaluated calls with a post-contact survey (< {DRIVER_MIN_BASE}) to tell "
            "which items drive satisfaction._")
        return
    res = validity.drivers
    imp = res.importance
    weak = validity.scored_not_driving
    strong = [i for i in validity.table.index if i not in weak]
    where = "this team's" if scope == ctx.label and ctx.segment is not None else "the company's"
    note = ("" if scope == ctx.label else f" ({ctx.label} has too few evaluated and surveyed calls; "
            "the company-wide analysis is shown)")
    _md(f"Which scorecard items drive post-contact CSAT in {where} calls{note}: LMG relative "
        f"importance from {res.n:,} calls (R² = {res.r2:.2f}).")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 0.4 * len(imp) + 1.5))
    res.plot(ax=ax)
    ax.set_title("Share of explained CSAT variance by scorecard item (with CI)")
    _show_figure(fig)
    nice = lambda xs: ", ".join(str(x).lower() for x in xs)  # noqa: E731
    if strong:
        _md(f"**Drive satisfaction:** {nice(strong)}.")
    if weak:
        _md(f"**Scored but not shown to drive satisfaction** (effect interval includes zero): "
            f"{nice(weak)}. Keep them for compliance if needed, but do not coach for CSAT on them.")


# -- engagement pulse ---------------------------------------------------------------------------

def engagement_table(ctx: ReportContext) -> pd.DataFrame:
    """Engagement (mean 1–5) and eNPS of the team's pulse answers pooled over the report's
    waves, beside the company's; suppressed below the minimum base."""
    from . import metrics
    if not ctx.has_scope("pulse"):
        return pd.DataFrame()
    rows = []
    for label, frame in ((ctx.label, ctx.scope("pulse")), ("Company", ctx.company("pulse"))):
        sub = frame.loc[frame["wave"].astype(str).isin(ctx.waves)]
        eng = metrics.mean(sub["engagement"], scale=(1, 5), min_base=ctx.min_base,
                           confidence=ctx.confidence)
        enps = metrics.nps(sub["enps"], min_base=ctx.min_base, confidence=ctx.confidence)
        for name, res in (("engagement", eng), ("eNPS", enps)):
            rows.append({"scope": label, "measure": name, "value": res.value, "ci_low": res.ci_low,
                         "ci_high": res.ci_high, "n": res.n, "suppressed": res.suppressed})
        if ctx.segment is None:
            break
    return pd.DataFrame(rows)


def engagement_link(ctx: ReportContext) -> dict | None:
    """Company-wide link of team engagement to team CSAT (:func:`cxlab.frontline.engagement_link`
    per team-quarter, clustered by team): slope (CSAT points per engagement point) with its
    interval, points and teams; None without pulse or contacts or with fewer than 10 points."""
    from . import frontline
    data = ctx.data
    if data.pulse is None or data.contacts is None:
        return None
    try:
        link = frontline.engagement_link(data.pulse, data.contacts, level="team_wave",
                                         confidence=ctx.confidence)
    except CXDataError:
        return None
    return link.as_dict() if len(link.points) >= 10 else None


def show_engagement(ctx: ReportContext) -> None:
    """The team's engagement pulse and the company-wide link of engagement to CSAT."""
    if _suppressed_note(ctx):
        return
    table = engagement_table(ctx)
    if table.empty:
        _md("_No employee pulse for this scope._")
        return
    pct = round(100 * ctx.confidence)
    fmt = {"engagement": lambda v: f"{v:.2f}", "eNPS": lambda v: f"{v:+.1f}".replace("-", "−")}
    shown = pd.DataFrame({
        "scope": table["scope"], "measure": table["measure"],
        "value": ["suppressed" if s else fmt[m](v) for m, v, s in
                  zip(table["measure"], table["value"], table["suppressed"])],
        f"{pct}% CI": ["" if s else f"{fmt[m](lo)} to {fmt[m](hi)}" for m, lo, hi, s in
                       zip(table["measure"], table["ci_low"], table["ci_high"], table["suppressed"])],
        "answers": table["n"]})
    _html(_table_html(shown, note=f"Pulse answers pooled over {ctx.waves[0]}–{ctx.waves[-1]} "
                                  "(teams are small; one quarter alone is below the base)."))
    link = engagement_link(ctx)
    if link is not None:
        verdict = ("a link larger than the noise" if link["ci_low"] > 0 or link["ci_high"] < 0
                   else "not distinguishable from no link")
        _md(f"Across the company ({link['teams']} teams, {link['points']} team-quarters), a team "
            f"whose engagement is one point higher has post-contact CSAT "
            f"**{_signed(link['slope'], 1)} points** higher ({pct}% CI "
            f"{_signed(link['ci_low'], 1)} to {_signed(link['ci_high'], 1)}; {verdict})."
            + (" Engagement is worth managing as a CX lever." if link["ci_low"] > 0 else ""))


# -- what-if: actions ranked by value -----------------------------------------------------------

#: Touchpoints most customers rate: candidates for the what-if driver model (listwise rows).
WHATIF_MAX_MISSING = 0.25
WHATIF_DETRACTOR_SHARE = 0.2


def actions_result(ctx: ReportContext):
    """``cx.whatif.chain`` for the report's scope: raise each widely rated touchpoint by one point,
    or move 20% of detractors to passive; driver → score → churn → 3-year value with bootstrap
    intervals. None (with a note) when the scope cannot support the chain."""
    if "whatif" in ctx.cache:
        return ctx.cache["whatif"]
    from . import whatif
    out = None
    if ctx.has_scope("customers") and ctx.has_scope("survey"):
        survey = ctx.scope("survey")
        drivers = [t for t in TOUCHPOINTS if t in survey.columns
                   and survey[t].isna().mean() <= WHATIF_MAX_MISSING]
        controls = [c for c in ("plan", "tenure_band", "segment") if c != ctx.by]
        if drivers and len(survey) >= max(DRIVER_MIN_BASE, ctx.min_base):
            actions = [whatif.raise_driver(d, 1.0, name=f"{_nice(d)} +1 point") for d in drivers]
            actions.append(whatif.move_detractors(WHATIF_DETRACTOR_SHARE,
                                                  name=f"{WHATIF_DETRACTOR_SHARE:.0%} of detractors "
                                                       "won over to passive"))
            scope = SimpleNamespace(customers=ctx.scope("customers"), survey=survey,
                                    contacts=ctx.scope("contacts") if ctx.has_scope("contacts")
                                    else None)
            import warnings
            # With few churn events the hazard model with every driver's direct effect may not
            # converge; the pure chain (driver -> score -> churn) has far fewer parameters.
            # Simpler models next: without direct effects, then also without controls (a
            # control level with no churn events, e.g. one segment in a small region, makes the
            # Cox fit diverge).
            ladder = [(controls, "all"), (controls, ()), ([], ())]
            for step, (ctrl, direct) in enumerate(ladder):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        out = whatif.chain(scope, actions, drivers, controls=ctrl,
                                           direct=direct, seed=ctx.seed,
                                           bootstrap=ctx.options.get("bootstrap", 200),
                                           confidence=ctx.confidence, progress=False)
                    wanted = ctx.options.get("bootstrap", 200)
                    if wanted and out.settings.get("bootstrap", 0) < 0.8 * wanted \
                            and step < len(ladder) - 1:
                        continue        # most resamples failed to refit: intervals unreliable
                    if step:
                        out.settings["simplified"] = (
                            "the churn model with the touchpoints' direct effects"
                            + (" and the controls" if not ctrl else "")
                            + " could not be fitted reliably on this base (too few churn "
                              "events); the pure chain touchpoint → "
                              "score → churn" + ("" if ctrl else " without controls") + " is shown")
                        ctx.notes.append("what-if: " + out.settings["simplified"])
                    break
                except (CXDataError, np.linalg.LinAlgError) as err:
                    out = None
                    if step == len(ladder) - 1:
                        ctx.notes.append(f"what-if chain not computed: {_first_line(err)}")
    ctx.cache["whatif"] = out
    return out


def _nice(name: str) -> str:
    return name.replace("_", " ").replace("selfservice", "self-service").capitalize()


def actions_table(ctx: ReportContext) -> pd.DataFrame:
    """The ``top_actions`` best actions by value (what-if chain), best first."""
    res = actions_result(ctx)
    if res is None:
        return pd.DataFrame()
    return res.table.head(ctx.options.get("top_actions", 5)).reset_index(drop=True)


def show_actions(ctx: ReportContext) -> None:
    """Top actions ranked by the value the what-if chain puts on them."""
    if _suppressed_note(ctx):
        return
    res = actions_result(ctx)
    if res is None:
        reason = next((n for n in ctx.notes if n.startswith("what-if chain not computed")), None)
        _md("_The what-if chain needs customers with revenue and at least "
            f"{max(DRIVER_MIN_BASE, ctx.min_base)} survey answers; not shown here"
            + (f" ({reason.split(': ', 1)[1]})" if reason else "") + "._")
        return
    pct = round(100 * ctx.confidence)
    top = actions_table(ctx)
    shown = pd.DataFrame({
        "action (best first)": top["action"],
        "score change (0–10)": [f"{_signed(v)} ({_signed(lo)} to {_signed(hi)})" for v, lo, hi in
                                zip(top["delta_score"], top["delta_score_ci_low"],
                                    top["delta_score_ci_high"])],
        "churn change": [f"{_signed(v, 2, ' pts')} ({_signed(lo)} to {_signed(hi)})" for v, lo, hi in
                         zip(top["delta_churn"], top["delta_churn_ci_low"], top["delta_churn_ci_high"])],
        "customers kept": top["retained"].map(lambda v: f"{v:,.0f}".replace("-", "−")),
        f"value ({pct}% CI)": [f"{_eur(v)} ({_eur(lo)} to {_eur(hi)})" for v, lo, hi in
                               zip(top["net_value"], top["net_ci_low"], top["net_ci_high"])],
        "chance value > 0": top["prob_positive"].map(lambda v: f"{v:.0%}")})
    st = res.settings
    _html(_table_html(shown, note=(
        f"Chain: touchpoint rating → likelihood to recommend (regression) → churn (Cox model) → "
        f"{st.get('years', 3)}-year customer value at {st.get('discount', 0.1):.0%} discount, for "
        f"{st.get('customers', 0):,.0f} customers; revenue counted as margin; {st.get('bootstrap')} "
        "bootstrap draws. Churn change in percentage points over 12 months.")))
    if st.get("simplified"):
        _md(f"_Note: {st['simplified']}._")
    sure = top.loc[top["net_ci_low"] > 0, "action"].tolist()
    if sure:
        _md(f"**Worth doing first** (value interval above zero): {', '.join(sure)}.")
    else:
        _md("_No action's value is clearly above zero at this base: treat the ranking as a "
            "hypothesis to test, not a plan._")
