"""Stakeholder HTML: an executed notebook as a page with no code, the index page of a batch,
the page frame and style every cxlab page shares, and PDF printing with headless Chromium.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from ..display import escape
from .parameters import TEMPLATES
from .record import SUPPRESSION_RULE

#: Content-Security-Policy of every published page (meta tag, first in <head>). The pages need
#: inline CSS (the page style, pandas Styler tables, style attributes) and data: images (the
#: embedded PNG charts) and nothing else: no script of any origin, no fetch, no frames, no
#: plugins, no forms, no <base>. Injected markup that escaping missed still cannot run script.
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
       "form-action 'none'")


def _first_line(text: str, limit: int = 300) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text)).strip()
    line = text.splitlines()[0] if text else ""
    return line[:limit]


REMOVE_TAGS = frozenset({"parameters", "injected-parameters", "remove-cell", "remove_cell"})


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


def href(path: str) -> str:
    """A relative link to a published file, percent-encoded (non-Latin file names): the result
    holds only URL-unreserved characters, ``/`` and ``%``, none of them special in HTML."""
    return quote(str(path), safe="/")


def page(title: str, body: str, subtitle: str = "", back: str | None = None,
          footer: str = "") -> str:
    """A complete, self-contained HTML page in the cxlab style (no scripts, nothing fetched,
    :data:`CSP` as its content-security policy): a header with ``title``/``subtitle`` (text,
    escaped) and an optional link ``back`` to the index, then ``body`` (HTML) and ``footer``
    (HTML)."""
    back_link = f'<a href="{href(back)}">&larr; All reports</a>' if back else ""
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
            f"<header class=\"cx-top\">{back_link}<h1>{escape(title)}</h1>"
            f"<div class=\"sub\">{escape(subtitle)}</div></header>"
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
    return page(title, f'<div class="cx-page">{body}</div>', subtitle=subtitle, back=index_href,
                 footer=footer)


def _card(entry: dict) -> str:
    status = entry.get("status", "failed")
    label = escape(str(entry.get("label") or entry.get("name")))
    if status == "ok" and entry.get("html"):
        head = f'<h3><a href="{href(entry["html"])}">{label}</a></h3>'
    else:
        head = f"<h3>{label}</h3>"
    words = {"ok": "published", "failed": "failed — not published",
             "suppressed": "suppressed — base too small", "interrupted": "interrupted"}
    parts = [head, f'<div class="status {escape(status)}">{words.get(status, status)}</div>']
    kpis = []
    for k in entry.get("kpis", []):
        change = k.get("change_text") or ""
        css = {"up": "cx-up", "down": "cx-down"}.get(k.get("direction"), "cx-flat")
        kpis.append(f'<div class="kpi"><div class="l">{escape(str(k.get("name", "")))}</div>'
                    f'<div class="v">{escape(str(k.get("text", "")))}</div>'
                    f'<div class="l">{escape(str(k.get("interval") or ""))}</div>'
                    f'<div class="d {css}">{escape(change)}</div></div>')
    if entry.get("verdict"):
        parts.append(f'<p class="cx-note"><b>{escape(str(entry["verdict"]))}</b></p>')
    if entry.get("flags"):
        parts.append('<ul class="cx-note">' + "".join(f"<li>{escape(str(f))}</li>"
                                                      for f in entry["flags"][:5]) + "</ul>")
    if kpis:
        parts.append(f'<div class="kpis">{"".join(kpis)}</div>')
    if entry.get("carried_over"):
        parts.append(f'<p class="cx-note">From an earlier run ({escape(entry.get("run") or "")});'
                     " not rerun this time.</p>")
    if status != "ok" and entry.get("error"):
        parts.append(f'<p class="cx-note">{escape(str(entry["error"]))}</p>')
    if status == "failed" and entry.get("notebook"):
        parts.append(f'<p class="cx-note">For the analyst: executed notebook '
                     f'<code>{escape(entry["notebook"])}</code>.</p>')
    if entry.get("pdf"):
        parts.append(f'<p class="cx-note"><a href="{href(entry["pdf"])}">PDF</a></p>')
    return f'<div class="card">{"".join(parts)}</div>'


def _digest_links(digest) -> str:
    """The alert digest per department (``cxlab.report.alerts_digest``), one link each."""
    if not isinstance(digest, dict) or not digest.get("pages"):
        return ""
    links = " · ".join(f'<a href="{href(p)}">{escape(d)}</a>' for d, p in digest["pages"].items())
    return (f'<p><b>Alert digest by owner</b> ({int(digest.get("alerts", 0))} flags; '
            f'<a href="{href(digest["csv"])}">CSV</a>): {links}</p>')


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
            f"<h2>{escape(title)}{' — by ' + escape(by) if by else ''}</h2>"
            f'<p class="cx-note">{escape(stat)}; data {escape(str(batch.get("data_name")))} '
            f"(sha256 {escape(str(batch.get('data_sha256', ''))[:12])}); "
            f"{'' if secs is None else f'{secs:.0f} s; '}"
            f"finished {escape(str(batch.get('finished')))}."
            "</p>"
            + "".join(f'<p class="cx-note">{escape(n)}</p>' for n in batch.get("notes", []))
            + _digest_links(batch.get("alert_digest"))
            + f'<div class="cards">{"".join(_card(r) for r in batch["reports"])}</div>')
    body = "".join(sections) or "<p>No reports yet.</p>"
    note = ("<p class=\"cx-note\">Each figure carries its 95% confidence interval; a change is "
            "called a change only when it is larger than the noise. "
            f"{escape(SUPPRESSION_RULE)}</p>")
    data = sorted({str(b.get("data_name")) for b in manifest.get("batches", [])})
    return page(f"Customer-experience reports — {manifest.get('period', '')}", note + body,
                 subtitle=f"data {', '.join(data)} · cxlab {manifest.get('cxlab_version', '')}",
                 footer=f"Updated {escape(str(manifest.get('updated')))}")


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
