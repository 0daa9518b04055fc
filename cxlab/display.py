"""What a notebook reader sees: styled tables, markdown, HTML snippets and figures.

One display layer for the driver-study template (:mod:`cxlab.study.sections`) and the report
templates (:mod:`cxlab.report`): inside Jupyter objects are displayed (and so reach the
stakeholder HTML), outside it text is printed and figures are closed without output.

Bottom layer: pandas, matplotlib and IPython only (all imported on first use but pandas).
"""

from __future__ import annotations

import html as _html
import re

import pandas as pd

__all__ = ["callout", "escape", "figure", "html", "html_table", "in_ipython", "markdown", "setup",
           "show", "styled_table"]

#: Characters that carry meaning in Markdown (CommonMark punctuation that can open a link, an
#: emphasis, code, a heading, a list or a table) or in HTML; :func:`escape` writes each as a
#: numeric character reference, which both Markdown and HTML render as the character itself.
_SPECIAL = {c: f"&#{ord(c)};" for c in "&<>\"'`*_[](){}#+-!|~=:\\\n\r\t"}
_SPECIAL_RE = re.compile("[" + re.escape("".join(_SPECIAL)) + "]")


def escape(value) -> str:
    """``value`` as text that shows literally in HTML *and* in Markdown (the one escaping rule
    for every data-derived string: segment labels, data names, driver and column labels).

    Every HTML- or Markdown-significant character becomes a numeric character reference
    (``<`` -> ``&#60;``, ``[`` -> ``&#91;``), so ``<script>``, ``"><img onerror=...>`` or
    ``[x](javascript:...)`` in the data are displayed as typed, never interpreted (HTML 5
    character references; CommonMark 6.2 "Entity and numeric character references" are not
    markup). Safe inside element text and quoted attribute values.

    Examples
    --------
    >>> escape('<b>North & "South"</b>')
    '&#60;b&#62;North &#38; &#34;South&#34;&#60;/b&#62;'
    """
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group(0)], str(value))


def in_ipython() -> bool:
    """True inside a Jupyter kernel or an IPython shell."""
    try:
        from IPython import get_ipython
        return get_ipython() is not None
    except ImportError:  # pragma: no cover
        return False


def show(obj) -> None:
    """Display ``obj`` in Jupyter; print its text (``.data`` for Markdown/HTML) elsewhere."""
    if in_ipython():
        from IPython.display import display
        display(obj)
    else:
        text = getattr(obj, "data", obj)
        print(text if isinstance(text, str) else obj)


def markdown(text: str) -> None:
    """Show ``text`` as Markdown."""
    from IPython.display import Markdown
    show(Markdown(text))


def html(text: str) -> None:
    """Show ``text`` as HTML."""
    from IPython.display import HTML
    show(HTML(text))


def callout(text: str, bold: str | None = None) -> None:
    """A highlighted box (``cx-callout`` in the report CSS); ``text`` is escaped."""
    head = f"<b>{_html.escape(bold)}</b> " if bold else ""
    html(f'<div class="cx-callout">{head}{_html.escape(text)}</div>')


def figure(obj) -> None:
    """Lay out, show (Jupyter only) and close a matplotlib Figure, or the Figure of an Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes
    fig = obj.figure if isinstance(obj, Axes) else obj
    fig.tight_layout()
    if in_ipython():
        show(fig)
    plt.close(fig)


def styled_table(frame: pd.DataFrame, digits: int = 3, index: bool = False):
    """A styled table: no row numbers unless ``index``, numbers rounded with thousands separators,
    missing shown as '–', text columns left-aligned; cells, row and column labels HTML-escaped."""
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])]
    sty = frame.copy().style.format(precision=digits, thousands=",", na_rep="–", escape="html")
    sty = sty.format_index(escape="html", axis=0).format_index(escape="html", axis=1)
    if not index:
        sty = sty.hide(axis="index")
    if text:
        sty = sty.set_properties(subset=text, **{"text-align": "left"})
    return sty


def html_table(frame: pd.DataFrame, note: str | None = None) -> str:
    """A pre-formatted table (cells already text) as HTML, with an optional note below it."""
    body = frame.to_html(index=False, border=0, escape=True, na_rep="–", classes="cx-table")
    return body + (f'<p class="cx-note">{_html.escape(note)}</p>' if note else "")



def result_html(result) -> str:
    """Jupyter display of a result object: its one-line repr above its summary table (the
    ``_repr_html_`` of the statistics modules' result classes)."""
    return f"<p><b>{_html.escape(repr(result))}</b></p>" + result.summary().to_html(max_rows=30)

def setup() -> None:
    """Seaborn styling and PNG figures (embedded as base64 in the HTML) for a template notebook."""
    import matplotlib
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook", palette="deep")
    matplotlib.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "axes.titleweight": "bold",
                                "axes.titlesize": 12, "figure.autolayout": False})
    if in_ipython():
        try:
            from matplotlib_inline.backend_inline import set_matplotlib_formats
            set_matplotlib_formats("png")
        except Exception:  # noqa: BLE001,S110  # pragma: no cover - only cosmetics
            pass
    pd.set_option("display.max_rows", 60)
