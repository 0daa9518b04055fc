"""Early warning: which segment's KPI or touchpoint has broken away from its own history or from
the rest of the company, with the false-alarm rate of the whole batch controlled.

For every segment (the company and each value of ``by``) and every KPI / touchpoint rating,
three changes are tested in the current wave, each with the interval of the difference from
:func:`cxlab.metrics.compare` (NPS: MOVER with Tango score intervals; shares: Newcombe; means:
Welch):

- ``previous``  current − previous wave (*fell / rose vs last quarter*);
- ``baseline``  current − the segment's own baseline: the pooled answers of the
  ``baseline_waves`` waves *before* the previous one (so a break that started last quarter is
  still measured against the level before it: *below its baseline since 2026Q2*);
- ``rest``      segment − the rest of the company in the current wave (*below the rest of
  the company*; not for the company itself).

The p-values of all tests of the batch (segments × KPIs × comparisons) are adjusted together,
Holm by default (``adjust="holm"``: the chance of any false flag in the batch stays at or below
``1 − confidence`` whatever happens in other segments; ``"fdr_bh"`` for Benjamini–Hochberg's
false discovery rate, which detects weak events more often but, by simulation, gives a quiet
region a false flag in about a third of the batches when a strong event hits another region),
with ``statsmodels.stats.multitest.multipletests``; a test is *significant* when its adjusted p-value
is below ``1 − confidence``, and a segment × KPI is *flagged* when a significant change points
down (improvements are listed as good news, not flagged). Under the global null both keep the
chance of *any* significant test in the batch at q or below; ``benchmarks/bench_alerts.py`` measures that rate and the detection
rate of scripted events by simulation (``benchmarks/results/alerts.md``).

    ew = early_warning(company.survey, by="region")     # latest wave
    ew.flags                                            # one row per segment × KPI, with labels
    ew.table                                            # one row per test

References
----------
Benjamini Y, Hochberg Y (1995) JRSS B 57:289–300. Holm S (1979) Scand J Stat 6:65–70.
Newcombe RG (1998) Stat Med 17:873–890. Zou GY, Donner A (2008) Stat Med 27:1693–1702.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import metrics
from .checks import CXDataError, require_columns, require_frame
from .contract import CONFIDENCE, MIN_BASE, TOUCHPOINTS

__all__ = ["ADJUST_METHODS", "ADJUST_NAMES", "AlertResult", "COMPARISONS", "DEFAULT_KPIS", "early_warning"]

#: name -> (survey column, cx.metrics metric, metric options). Higher is better for every one.
DEFAULT_KPIS: dict[str, tuple[str, str, dict]] = {
    "NPS": ("ltr", "nps", {}),
    "CSAT": ("osat", "csat", {"scale": (1, 5), "top": 2}),
    "CES": ("effort", "ces", {"scale": (1, 7)}),
    **{t: (t, "mean", {"scale": (1, 10)}) for t in TOUCHPOINTS},
}
COMPARISONS = ("previous", "baseline", "rest")
ADJUST_METHODS = ("holm", "fdr_bh", "none")
ADJUST_NAMES = {"holm": "Holm", "fdr_bh": "Benjamini–Hochberg", "none": "no adjustment"}
COMPANY = "Company"

_WORDS = {("previous", -1): "fell vs last quarter", ("previous", 1): "rose vs last quarter",
          ("baseline", -1): "below its baseline", ("baseline", 1): "above its baseline",
          ("rest", -1): "below the rest of the company",
          ("rest", 1): "above the rest of the company"}


@dataclass
class AlertResult:
    """Tests of one batch (``table``: one row per segment × KPI × comparison) and the flags per
    segment × KPI (``flags``); ``settings`` holds the waves compared and the adjustment."""

    table: pd.DataFrame
    flags: pd.DataFrame
    settings: dict = field(default_factory=dict)

    @property
    def alerts(self) -> pd.DataFrame:
        """The flagged segment × KPI cells (a fall, or a level below baseline / the rest)."""
        return self.flags.loc[self.flags["flagged"]].reset_index(drop=True)

    def for_segment(self, segment: str | None) -> pd.DataFrame:
        """The flags of one segment (None = the company)."""
        return self.flags.loc[self.flags["segment"] == (segment or COMPANY)]

    def summary(self) -> pd.DataFrame:
        return self.flags.loc[self.flags["flagged"], ["segment", "kpi", "value", "label"]]

    def __repr__(self) -> str:
        s = self.settings
        return (f"AlertResult({s.get('current')}: {int(self.flags['flagged'].sum())} flagged of "
                f"{len(self.flags)} segment × KPI cells, {s.get('adjust')} at "
                f"{1 - s.get('confidence', CONFIDENCE):.0%})")


def _waves(values: pd.Series) -> list:
    col = values.dropna()
    if isinstance(col.dtype, pd.CategoricalDtype) and col.cat.ordered:
        present = set(col.astype(str))
        return [str(c) for c in col.cat.categories if str(c) in present]
    return sorted(col.astype(str).unique())


def early_warning(survey: pd.DataFrame, kpis: Mapping | Sequence[str] | None = None,
                  by: str | None = "region", period: str = "wave", current=None,
                  baseline_waves: int = 4, confidence: float = CONFIDENCE,
                  min_base: int = MIN_BASE, adjust: str = "holm",
                  company: bool = True) -> AlertResult:
    """Flag KPIs / touchpoints that changed vs last wave, broke from their baseline or differ from
    the rest of the company, with the multiplicity of the batch controlled.

    Parameters
    ----------
    survey : DataFrame
        One row per answer with ``period``, ``by`` and the KPI columns.
    kpis : mapping or list of names, optional
        ``{name: (column, metric, metric options)}`` (``metric`` as :func:`cxlab.metrics.compare`
        takes it), or names of :data:`DEFAULT_KPIS` (default: all of them whose column exists:
        NPS, CSAT, CES and the touchpoint ratings). Higher must be better.
    by : str or None
        Segment column; None tests the company only.
    current : optional
        Wave tested (default: the latest); ``previous`` is the wave before it.
    baseline_waves : int
        Waves pooled for the baseline, those just before the previous wave (fewer if the data
        starts later; no baseline test when there is none).
    confidence : float
        The flag threshold is ``1 − confidence`` on the adjusted p-value.
    min_base : int
        A side with fewer answers makes the test suppressed (no p-value, never flagged).
    adjust : {"holm", "fdr_bh", "none"}
        Adjustment across every test of the batch (``multipletests``): Holm (family-wise
        error rate, default) or Benjamini–Hochberg (false discovery rate).
    company : bool
        Include the company as a segment (previous and baseline tests).

    Returns
    -------
    AlertResult
        ``table``: segment, kpi, comparison, period, reference_period, value, n, reference,
        n_reference, difference, difference_ci_low, difference_ci_high, p_value, p_adjusted,
        significant (adjusted p < 1 − confidence), direction (−1/0/+1), since, suppressed.
        ``flags``: one row per segment × KPI with the current value, ``flagged`` (a significant
        change pointing down: a fall, a level below the baseline or the rest), ``since`` (the
        first wave of the run below the baseline: the previous wave too when it was already
        below the same baseline at the nominal level), ``largest_fall``, a plain ``label`` and
        ``good_news`` (significant improvements, not flagged).

    Examples
    --------
    >>> import cxlab as cx
    >>> ew = cx.alerts.early_warning(cx.datasets.load("kestrel").survey, ["NPS"], by="region")
    >>> ew.for_segment("South")["label"].iloc[0]
    'below its baseline since 2026Q2; below the rest of the company'
    """
    require_frame(survey)
    if adjust not in ADJUST_METHODS:
        raise CXDataError(f"adjust must be one of {ADJUST_METHODS}, got {adjust!r}.")
    if not (isinstance(baseline_waves, (int, np.integer)) and baseline_waves >= 1):
        raise CXDataError(f"baseline_waves must be a whole number ≥ 1, got {baseline_waves!r}.")
    spec = _kpi_spec(survey, kpis)
    require_columns(survey, [period, *([by] if by else []), *(c for c, _, _ in spec.values())])
    waves = _waves(survey[period])
    cur = waves[-1] if current is None else str(current)
    if cur not in waves:
        raise CXDataError(f"current={current!r} is not a wave of {period!r}; waves: "
                          f"{', '.join(waves)}.")
    i = waves.index(cur)
    if i == 0:
        raise CXDataError(f"{cur} is the first wave in {period!r}: there is nothing to compare "
                          "it with. Pass a later wave as current.")
    prev = waves[i - 1]
    base = waves[max(0, i - 1 - baseline_waves): i - 1]
    wave = survey[period].astype(str)
    seg_col = survey[by].astype(str) if by else pd.Series(COMPANY, index=survey.index)
    stacked = _stacked(wave, seg_col, cur, prev, base, company or not by, bool(by))
    rows = []
    for name, (col, metric, kw) in spec.items():
        frame = stacked.assign(y=survey[col].to_numpy()[stacked["_row"].to_numpy()])
        res = metrics.change(frame, "y", metric=metric, period="side", current="now",
                             previous="ref", by=["segment", "comparison"],
                             confidence=confidence, min_base=min_base, **kw)
        res = res.rename(columns={"current": "value", "n_current": "n",
                                  "previous": "reference", "n_previous": "n_reference",
                                  "ci_low": "difference_ci_low",
                                  "ci_high": "difference_ci_high"})
        res["kpi"] = name
        rows.append(res)
    table = pd.concat(rows, ignore_index=True)
    since_rows = table["comparison"] == "since"
    key = ["segment", "kpi"]
    before = (table.loc[since_rows, [*key, "p_value", "difference"]]
              .rename(columns={"p_value": "previous_vs_baseline_p",
                               "difference": "previous_vs_baseline"}))
    table = table.loc[~since_rows].merge(before, on=key, how="left")
    table.loc[table["comparison"] != "baseline", ["previous_vs_baseline_p",
                                                  "previous_vs_baseline"]] = np.nan
    table["period"] = cur
    table["reference_period"] = table["comparison"].map(
        {"previous": prev, "baseline": f"{base[0]}–{base[-1]}" if base else None, "rest": cur})
    cols = ["segment", "kpi", "comparison", "period", "reference_period", "value", "n",
            "reference", "n_reference", "difference", "difference_ci_low",
            "difference_ci_high", "p_value", "suppressed", "previous_vs_baseline_p",
            "previous_vs_baseline"]
    table = table[cols]
    table["p_adjusted"] = _adjust(table["p_value"].to_numpy(float), adjust)
    alpha = 1 - confidence
    table["significant"] = table["p_adjusted"] < alpha
    table["direction"] = np.where(table["significant"], np.sign(table["difference"]),
                                  0).astype(int)
    since = np.where(table["significant"], cur, None).astype(object)
    prev_same = ((table.get("previous_vs_baseline_p", np.nan) < alpha)
                 & (np.sign(table.get("previous_vs_baseline", np.nan))
                    == np.sign(table["difference"])))
    since[(table["comparison"] == "baseline") & table["significant"] & prev_same] = prev
    table["since"] = since
    settings = {"current": cur, "previous": prev, "baseline": base, "adjust": adjust,
                "confidence": confidence, "min_base": min_base, "by": by,
                "tests": int(table["p_value"].notna().sum())}
    return AlertResult(table, _flags(table, spec), settings)


def _stacked(wave: pd.Series, seg_col: pd.Series, cur, prev, base, company: bool,
             segments: bool) -> pd.DataFrame:
    """Every test of the batch as rows of one frame: ``_row`` (position in the survey),
    ``segment``, ``comparison`` and ``side`` ("now" / "ref"), so that one
    :func:`cxlab.metrics.change` call per KPI computes all of them (vectorised over groups).
    ``since`` compares the previous wave with the same baseline."""
    pos = np.arange(len(wave))
    w, s = wave.to_numpy(), seg_col.to_numpy()
    is_cur, is_prev, is_base = w == cur, w == prev, np.isin(w, list(base))
    parts = []

    def add(mask_now, mask_ref, segment, comparison):
        for side, m in (("now", mask_now), ("ref", mask_ref)):
            parts.append(pd.DataFrame({"_row": pos[m], "segment": segment,
                                       "comparison": comparison, "side": side}))

    groups = ([(COMPANY, np.ones(len(w), bool))] if company else []) + (
        [(g, s == g) for g in sorted(pd.unique(s))] if segments else [])
    for g, inside in groups:
        add(inside & is_cur, inside & is_prev, g, "previous")
        if base:
            add(inside & is_cur, inside & is_base, g, "baseline")
            add(inside & is_prev, inside & is_base, g, "since")
        if g != COMPANY:
            add(inside & is_cur, ~inside & is_cur, g, "rest")
    return pd.concat(parts, ignore_index=True)


def _kpi_spec(survey: pd.DataFrame, kpis) -> dict:
    if kpis is None:
        return {k: v for k, v in DEFAULT_KPIS.items() if v[0] in survey.columns}
    if isinstance(kpis, Mapping):
        return {str(k): (v[0], v[1], dict(v[2]) if len(v) > 2 else {}) for k, v in kpis.items()}
    unknown = [k for k in kpis if k not in DEFAULT_KPIS]
    if unknown:
        raise CXDataError(f"Unknown KPI name(s) {unknown}; known: {', '.join(DEFAULT_KPIS)}, or "
                          "pass {name: (column, metric, options)}.")
    return {k: DEFAULT_KPIS[k] for k in kpis}


def _adjust(p: np.ndarray, method: str) -> np.ndarray:
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if method == "none" or not ok.any():
        out[ok] = p[ok]
        return out
    from statsmodels.stats.multitest import multipletests
    out[ok] = multipletests(p[ok], method=method)[1]
    return out


def _flags(table: pd.DataFrame, spec: Mapping) -> pd.DataFrame:
    """One row per segment × KPI: the current value, the plain label of its adverse flags
    (``label``) and of its significant improvements (``good_news``)."""
    rows = []
    order = {k: i for i, k in enumerate(spec)}
    for (seg, kpi), g in table.groupby(["segment", "kpi"], sort=False):
        bad, good, since, worst = [], [], None, np.nan
        sig = g.loc[g["significant"]]
        sig = sig.iloc[np.argsort(sig["comparison"].map(COMPARISONS.index).to_numpy(),
                                  kind="stable")]
        for r in sig.to_dict("records"):
            word = _WORDS[(r["comparison"], int(r["direction"]))]
            if r["comparison"] == "baseline":
                word += f" since {r['since']}"
            if r["direction"] > 0:
                good.append(word)
                continue
            bad.append(word)
            since = r["since"] if r["comparison"] == "baseline" else since or r["period"]
            if not np.isfinite(worst) or r["difference"] < worst:
                worst = r["difference"]
        first = g.iloc[0]
        ref = {c: g.loc[g["comparison"] == c] for c in COMPARISONS}
        rows.append({"segment": seg, "kpi": kpi, "column": spec[kpi][0], "period": first["period"],
                     "value": first["value"], "n": first["n"],
                     "suppressed": bool(g["suppressed"].all()),
                     **{f"vs_{c}": (float(ref[c]["difference"].iloc[0]) if len(ref[c])
                                    else np.nan) for c in COMPARISONS},
                     "flagged": bool(bad), "largest_fall": worst, "since": since,
                     "label": "; ".join(bad) if bad else "no flag",
                     "good_news": "; ".join(good)})
    out = pd.DataFrame(rows)
    out["_o"] = out["kpi"].map(order)
    out["_s"] = out["segment"] != COMPANY
    return (out.sort_values(["_s", "segment", "_o"]).drop(columns=["_o", "_s"])
            .reset_index(drop=True))
