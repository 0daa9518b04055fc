"""Link CX scores to retention: churn by group, a logistic churn model, survival curves, a Cox model.

Everything here works on one row per customer (or per survey respondent) with a churn flag
(0/1) and, for survival, a duration. :func:`analysis_frame` builds that table from a company
(customers + relationship survey) with the survey date as time origin and censoring at the
end of observation, so no information from after the survey leaks into the predictors.

Methods
-------
* churn rate intervals: Wilson (1927) score interval; differences between groups: Newcombe
  (1998, method 10) hybrid score interval; test of equal rates: Pearson chi-square; pairwise
  two-proportion z tests with Holm (1979) adjustment.
* logistic model: maximum likelihood (statsmodels ``Logit``), odds ratios with Wald intervals,
  average marginal effects by the standard definition (each level of a categorical variable
  against its reference for every row; discrete change for 0/1 terms; Stata ``margins``, R
  ``marginaleffects``) with delta-method intervals (:func:`average_marginal_effects`).
* survival: Kaplan–Meier with Greenwood variance and log(-log) pointwise intervals
  (Kalbfleisch & Prentice 2002), log-rank test (``statsmodels.duration.survdiff``).
* Cox proportional hazards with Efron ties (statsmodels ``PHReg``), hazard ratios with Wald
  intervals.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from . import intervals
from .checks import (
    CXDataError,
    CXWarning,
    _preview,
    as_series,
    min_rows,
    numeric_series,
    require_columns,
    require_frame,
)
from .display import result_html

DAYS_PER_MONTH = 365.25 / 12
NPS_GROUPS = ("Detractor", "Passive", "Promoter")

__all__ = [
    "DAYS_PER_MONTH",
    "NPS_GROUPS",
    "SURVIVAL_TOLERANCE",
    "TENURE_BANDS",
    "ChurnByGroup",
    "CoxChurn",
    "DriverComparison",
    "KaplanMeier",
    "LogitChurn",
    "analysis_frame",
    "average_marginal_effects",
    "churn_by_group",
    "churn_cox",
    "churn_drivers",
    "churn_flag",
    "churn_logit",
    "compare_driver_lists",
    "customer_periods",
    "design_matrix",
    "durations",
    "is_categorical",
    "kaplan_meier",
    "monthly_intervals",
    "nps_group",
    "score_band",
    "survival_quantile",
    "tenure_band",
]


# ----------------------------------------------------------------------------- labels

def nps_group(scores) -> pd.Series:
    """NPS group of 0–10 answers: 0–6 Detractor, 7–8 Passive, 9–10 Promoter (ordered categorical).

    Missing answers stay missing; anything that is not a whole number 0–10 raises CXDataError.
    """
    s = as_series(scores, "scores")
    values = _numeric_series(s, "scores", scale=(0, 10), integer=True)
    out = pd.cut(values, bins=[-0.5, 6.5, 8.5, 10.5], labels=list(NPS_GROUPS))
    return pd.Series(pd.Categorical(out, categories=list(NPS_GROUPS), ordered=True),
                     index=s.index, name="nps_group")


def score_band(scores, bands: Mapping[str, tuple[float, float]] | None = None) -> pd.Series:
    """Label each score with the band (``label: (low, high)``, both inclusive) it falls in.

    The default bands suit a 0–10 scale: ``0–4``, ``5–6``, ``7–8``, ``9–10``. Values that fall
    in no band raise CXDataError; missing values stay missing.
    """
    if bands is None:
        bands = {"0–4": (0, 4), "5–6": (5, 6), "7–8": (7, 8), "9–10": (9, 10)}
    if not bands:
        raise CXDataError("bands is empty: give at least one band as {'label': (low, high)}.")
    s = as_series(scores, "scores")
    values = _numeric_series(s, "scores")
    out = pd.Series(pd.NA, index=s.index, dtype=object)
    hit = pd.Series(0, index=s.index)
    for label, (lo, hi) in bands.items():
        if lo > hi:
            raise CXDataError(f"Band {label!r} has low {lo} above high {hi}.")
        inside = (values >= lo) & (values <= hi)
        out[inside] = label
        hit += inside.astype(int)
    if (hit > 1).any():
        raise CXDataError(f"Bands overlap: the value(s) {_preview(pd.unique(values[hit > 1]))} fall "
                          "in more than one band. Make the (low, high) ranges disjoint.")
    outside = values.notna() & (hit == 0)
    if outside.any():
        raise CXDataError(f"{outside.sum()} score(s) fall in no band: values "
                          f"{_preview(pd.unique(values[outside]))} at rows {_preview(s.index[outside])}. "
                          "Widen the bands or recode these values to missing.")
    return pd.Series(pd.Categorical(out, categories=list(bands), ordered=True), index=s.index,
                     name="score_band")


# ----------------------------------------------------------------------------- proportions

def _two_proportion_p(x1, n1, x2, n2) -> float:
    """Two-sided pooled z test of p1 = p2 (the 2×2 Pearson chi-square without correction)."""
    p = (x1 + x2) / (n1 + n2)
    se = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return float(2 * stats.norm.sf(abs(x1 / n1 - x2 / n2) / se))


# ----------------------------------------------------------------------------- input checks

def _numeric_series(s: pd.Series, name: str, scale=None, integer=False) -> pd.Series:
    """Numeric check of one Series (missing values allowed, also all of them)."""
    return numeric_series(s, name, scale=scale, integer=integer, require_values=False)


def churn_flag(data: pd.DataFrame, column: str, what: str = "churn flag") -> pd.Series:
    """A 0/1 (or boolean) column as float, missing kept; anything else raises a
    :class:`CXDataError` naming the values, the rows and the recode that fixes it."""
    raw = data[column]
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype(float)
    values = pd.to_numeric(raw, errors="coerce")
    bad = (values.isna() & raw.notna()) | (values.notna() & ~values.isin([0, 1]))
    if bad.any():
        shown = _preview(pd.unique(raw[bad].astype(str)))
        raise CXDataError(
            f"Column {column!r} must be a 0/1 {what} (1 = churned, 0 = stayed) but holds {shown} at "
            f"rows {_preview(raw.index[bad])}. Recode it, e.g. data[{column!r}] = "
            f"(data[{column!r}] == 'Yes').astype(int).")
    return values.astype(float)


def durations(data: pd.DataFrame, column: str) -> pd.Series:
    """A duration column as numbers, checked: no negative or infinite values (missing kept)."""
    values = _numeric_series(data[column], f"Duration column {column!r}")
    neg = values < 0
    if neg.any():
        raise CXDataError(f"Duration column {column!r} has {neg.sum()} negative value(s) "
                          f"{_preview(pd.unique(values[neg]))} at rows {_preview(values.index[neg])}. "
                          "Durations run from the time origin to churn or censoring and cannot be "
                          "negative: check the date columns (end before start?).")
    inf = values.notna() & ~np.isfinite(values)
    if inf.any():
        raise CXDataError(f"Duration column {column!r} has infinite values at rows "
                          f"{_preview(values.index[inf])}.")
    return values


def _complete(data: pd.DataFrame, columns: Sequence[str], what: str) -> tuple[pd.DataFrame, dict]:
    """Keep rows with every column present; warn how many were excluded and because of which column."""
    require_frame(data)
    columns = list(dict.fromkeys(columns))
    require_columns(data, columns)
    missing = data[columns].isna()
    keep = ~missing.any(axis=1)
    excluded = {c: int(missing[c].sum()) for c in columns if missing[c].any()}
    n_out = int((~keep).sum())
    if n_out:
        detail = ", ".join(f"{c}: {k}" for c, k in excluded.items())
        warnings.warn(f"{what}: {n_out} of {len(data)} rows excluded for missing values "
                      f"(missing per column: {detail}).", CXWarning, stacklevel=3)
    if keep.sum() == 0:
        raise CXDataError(f"{what}: no row has all of {_preview(columns)} present. "
                          "Check the columns or fill the missing values.")
    return data.loc[keep], {"rows_excluded": n_out, "missing_by_column": excluded}


def is_categorical(s: pd.Series) -> bool:
    """True for text / categorical columns (they enter models as treatment dummies)."""
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


def design_matrix(df: pd.DataFrame, predictors: Sequence[str], controls: Sequence[str] = (),
                  reference: Mapping[str, object] | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Numeric design matrix (no intercept) and a term table (term, variable, role, reference).

    Numeric columns enter as they are; text/categorical columns as treatment dummies against a
    reference level (``reference[col]``, else the first category of an ordered categorical, else
    the most frequent level).
    """
    reference = dict(reference or {})
    cols, rows = {}, []
    for role, names in (("predictor", predictors), ("control", controls)):
        for name in names:
            s = df[name]
            if is_categorical(s):
                levels = (list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype)
                          else sorted(pd.unique(s.astype(str))))
                counts = s.astype(str).value_counts()
                levels = [str(lv) for lv in levels if counts.get(str(lv), 0) > 0]
                if len(levels) < 2:
                    raise CXDataError(f"Column {name!r} has a single level {_preview(levels)} in the "
                                      "rows analysed: there is no contrast to estimate. Drop it.")
                if name in reference:
                    ref = str(reference[name])
                    if ref not in levels:
                        raise CXDataError(f"Reference level {ref!r} for {name!r} is not among its "
                                          f"levels {_preview(levels, 12)}.")
                elif isinstance(s.dtype, pd.CategoricalDtype) and s.cat.ordered:
                    ref = levels[0]
                else:
                    ref = str(counts.idxmax())
                for lv in levels:
                    if lv != ref:
                        term = f"{name}[{lv}]"
                        cols[term] = (s.astype(str) == lv).astype(float).to_numpy()
                        rows.append((term, name, role, ref))
            else:
                x = _numeric_series(s, f"Column {name!r}")
                if x.nunique() < 2:
                    raise CXDataError(f"Column {name!r} is constant ({x.iloc[0]:g}) in the rows analysed: "
                                      "its effect cannot be estimated. Drop it.")
                cols[name] = x.to_numpy()
                rows.append((name, name, role, None))
    X = pd.DataFrame(cols, index=df.index)
    rank = np.linalg.matrix_rank(X.to_numpy()) if X.shape[1] else 0
    if rank < X.shape[1]:
        raise CXDataError(f"The model terms {_preview(X.columns, 12)} are collinear (design rank {rank} "
                          f"< {X.shape[1]} terms): one is a combination of others. Drop a redundant column.")
    terms = pd.DataFrame(rows, columns=["term", "variable", "role", "reference"])
    return X, terms


def _as_list(x) -> list[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return list(x)


# ----------------------------------------------------------------------------- churn by group

@dataclass(frozen=True, repr=False)
class ChurnByGroup:
    """Churn rate by group with Wilson intervals, a chi-square test and pairwise differences.

    ``table``: one row per group (``n``, ``churned``, ``churn_rate`` in %, ``ci_low``, ``ci_high``).
    ``test``: Pearson chi-square test that all groups churn at the same rate.
    ``pairwise``: ``group_a``, ``group_b``, ``difference`` (a − b, percentage points) with its
    Newcombe interval (unadjusted), the z-test p-value and the Holm-adjusted p-value.
    """

    group: str
    churned: str
    table: pd.DataFrame
    test: dict
    pairwise: pd.DataFrame
    confidence: float
    excluded: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"ChurnByGroup({self.churned!r} by {self.group!r}: {len(self.table)} groups, "
                f"n = {int(self.table['n'].sum()):,}, p = {self.test['p_value']:.3g})")

    _repr_html_ = result_html

    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    def plot(self, *, ax=None, **kwargs):
        from .plots import churn_rates_plot
        return churn_rates_plot(self, ax=ax, **kwargs)

    def __str__(self) -> str:
        t = self.test
        return (f"Churn by {self.group}: chi-square({t['df']}) = {t['statistic']:.2f}, "
                f"p = {t['p_value']:.3g}\n" + self.table.to_string(index=False))


def churn_by_group(data: pd.DataFrame, group: str, churned: str = "churned",
                   confidence: float = 0.95, order: Sequence | None = None,
                   weight: str | None = None) -> ChurnByGroup:
    """Churn rate (%) per level of ``group`` with Wilson intervals and tests of difference.

    ``churned`` is a 0/1 column. Rows missing the group or the flag are excluded and reported
    (a CXWarning and ``result.excluded``). ``order`` fixes the row order; a level listed there
    that has no rows raises CXDataError. The rate ignores unequal follow-up: use a fixed-horizon
    flag such as ``churn_12m`` from :func:`analysis_frame`, or :func:`kaplan_meier`.

    ``weight`` names a column of survey weights (e.g. ``cx.weighting.survey_weights``): rates are
    weighted shares, and intervals, tests and differences use the effective counts
    ``(p_w·n_eff, n_eff)`` with ``n_eff = n/deff`` from the linearised variance (as
    ``cx.metrics``; an ``n_eff`` column is added).
    """
    cols = [group, churned] + ([weight] if weight is not None else [])
    df, excluded = _complete(data, cols, "churn_by_group")
    y = churn_flag(df, churned)
    g = df[group]
    labels = g.astype(str) if not isinstance(g.dtype, pd.CategoricalDtype) else g
    if order is not None:
        levels = list(order)
        present = set(map(str, pd.unique(labels.astype(str))))
        empty = [lv for lv in levels if str(lv) not in present]
        if empty:
            raise CXDataError(f"Group(s) {_preview(empty)} of {group!r} have no rows with a churn flag. "
                              "Remove them from `order` or check the filter.")
        unlisted = sorted(present - set(map(str, levels)))
        if unlisted:
            raise CXDataError(f"{group!r} has level(s) {_preview(unlisted)} missing from `order`. "
                              "List every level or filter the data first.")
        levels = [str(lv) for lv in levels]
    elif isinstance(g.dtype, pd.CategoricalDtype):
        counts = g.value_counts()
        levels = [str(c) for c in g.cat.categories if counts.get(c, 0) > 0]
        unused = [str(c) for c in g.cat.categories if counts.get(c, 0) == 0]
        if unused:
            excluded = {**excluded, "empty_levels": unused}
    else:
        levels = sorted(map(str, pd.unique(labels)))
    key = labels.astype(str)
    n = np.array([(key == lv).sum() for lv in levels], dtype=float)
    x = np.array([y[key == lv].sum() for lv in levels], dtype=float)
    counts = {"n": n.astype(int), "churned": x.astype(int)}
    if weight is not None:             # effective counts by design effect (linearised variance)
        from .checks import weights_for
        from .weighting import linearized_variance
        w = weights_for(df, weight)
        code = pd.Categorical(key, categories=levels).codes
        p_w, _, n_eff = linearized_variance(np.asarray(y, dtype=float), w, code, len(levels))
        n = np.minimum(n_eff, n)
        x = p_w * n
    lo, hi = intervals.wilson(x, n, confidence)
    table = pd.DataFrame({group: levels, **counts,
                          "churn_rate": 100 * x / n, "ci_low": 100 * lo, "ci_high": 100 * hi})
    if weight is not None:
        table["n_eff"] = n
    test = _chi_square(x, n)
    pairs = []
    for i, j in combinations(range(len(levels)), 2):
        dl, dh = intervals.newcombe(x[i], n[i], x[j], n[j], confidence)
        pairs.append({"group_a": levels[i], "group_b": levels[j],
                      "difference": 100 * (x[i] / n[i] - x[j] / n[j]),
                      "ci_low": 100 * float(dl), "ci_high": 100 * float(dh),
                      "p_value": _two_proportion_p(x[i], n[i], x[j], n[j])})
    pairwise = pd.DataFrame(pairs, columns=["group_a", "group_b", "difference", "ci_low", "ci_high",
                                            "p_value"])
    pairwise["p_holm"] = intervals.holm(pairwise["p_value"].to_numpy())
    pairwise["significant"] = pairwise["p_holm"] < 1 - confidence
    return ChurnByGroup(group, churned, table, test, pairwise, confidence, excluded)


def _chi_square(x: np.ndarray, n: np.ndarray) -> dict:
    """Pearson chi-square (no continuity correction) for a k × 2 table of churned / stayed."""
    k = len(n)
    obs = np.column_stack([x, n - x])
    if k < 2 or obs.sum(axis=0).min() == 0:
        why = "fewer than two groups" if k < 2 else "no churner (or no stayer) in any group"
        return {"statistic": np.nan, "df": max(k - 1, 0), "p_value": np.nan,
                "method": f"Pearson chi-square (not computed: {why})"}
    expected = obs.sum(axis=1, keepdims=True) * obs.sum(axis=0, keepdims=True) / obs.sum()
    chi2 = float(((obs - expected) ** 2 / expected).sum())
    method = "Pearson chi-square"
    if expected.min() < 5:
        method += " (some expected counts < 5: treat the p-value as approximate)"
    return {"statistic": chi2, "df": k - 1, "p_value": float(stats.chi2.sf(chi2, k - 1)),
            "method": method}


# ----------------------------------------------------------------------------- logistic model

@dataclass(frozen=True, repr=False)
class LogitChurn:
    """Logistic model of churn: odds ratios and average marginal effects (percentage points)."""

    churned: str
    terms: pd.DataFrame
    n: int
    events: int
    pseudo_r2: float
    confidence: float
    fit: object = field(repr=False)
    excluded: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"LogitChurn({self.churned!r}: {len(self.terms) - 1} terms, n = {self.n:,}, "
                f"churners = {self.events:,}, pseudo-R² = {self.pseudo_r2:.3f})")

    _repr_html_ = result_html

    def summary(self) -> pd.DataFrame:
        """One row per term: coef (log-odds), se, z, p_value, odds_ratio with CI, AME (pp) with CI."""
        return self.terms.copy()

    def marginal_effect(self, term: str) -> pd.Series:
        """Average marginal effect of one more unit of ``term`` on the churn probability (pp)."""
        row = self.terms.set_index("term").loc[term]
        return row[["ame", "ame_ci_low", "ame_ci_high"]]

    def predict(self, data: pd.DataFrame) -> pd.Series:
        """Churn probability (0–1) for each row of ``data`` (same columns as the fit)."""
        X = _design_like(data, self.terms, with_const=True)
        return pd.Series(self.fit.predict(X), index=data.index, name="churn_probability")

    def plot(self, *, ax=None, **kwargs):
        from .plots import forest_plot
        t = self.terms[self.terms["role"] != "intercept"]
        kwargs.setdefault("title", f"Logistic model of {self.churned}: odds ratios "
                                   f"(n = {self.n:,}, churners = {self.events:,})")
        return forest_plot(t, estimate="odds_ratio", label="Odds ratio of churn", ax=ax, **kwargs)


def _design_like(data: pd.DataFrame, terms: pd.DataFrame, with_const: bool) -> pd.DataFrame:
    cols = {}
    for t in terms.itertuples():
        if t.role == "intercept":
            continue
        if t.reference is None or (isinstance(t.reference, float) and np.isnan(t.reference)):
            cols[t.term] = pd.to_numeric(data[t.variable]).astype(float).to_numpy()
        else:
            level = t.term[len(t.variable) + 1:-1]
            cols[t.term] = (data[t.variable].astype(str) == level).astype(float).to_numpy()
    X = pd.DataFrame(cols, index=data.index)
    if with_const:
        X.insert(0, "Intercept", 1.0)
    return X


def churn_logit(data: pd.DataFrame, churned: str, predictors: str | Sequence[str],
                controls: Sequence[str] = (), reference: Mapping[str, object] | None = None,
                confidence: float = 0.95) -> LogitChurn:
    """Logistic regression of the 0/1 ``churned`` flag on ``predictors`` (e.g. ``"ltr"`` or the
    driver ratings) plus ``controls`` (numeric as is, text as dummies against a reference).

    Returns odds ratios exp(b) with Wald intervals and average marginal effects (AME, in
    percentage points per unit; each category against its reference for every row, discrete
    change for 0/1 terms; :func:`average_marginal_effects`) with delta-method intervals.
    Rows with a missing value in any model column are excluded and reported.
    """
    import statsmodels.api as sm

    predictors, controls = _as_list(predictors), _as_list(controls)
    if not predictors:
        raise CXDataError("churn_logit needs at least one predictor, e.g. predictors='ltr'.")
    df, excluded = _complete(data, [churned, *predictors, *controls], "churn_logit")
    y = churn_flag(df, churned)
    events = int(y.sum())
    if events == 0 or events == len(y):
        raise CXDataError(f"{churned!r} is {int(y.iloc[0])} for all {len(y)} rows analysed: a churn "
                          "model needs both churners and stayers.")
    X, terms = design_matrix(df, predictors, controls, reference)
    min_rows(len(y), X.shape[1] + 2, "churn_logit")
    _events_per_term(min(events, len(y) - events), X.shape[1], "churn_logit")
    Xc = sm.add_constant(X, has_constant="add").rename(columns={"const": "Intercept"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = sm.Logit(y.to_numpy(), Xc).fit(disp=0, method="newton", maxiter=100)
        except Exception as err:  # perfect separation, singular Hessian
            raise CXDataError(f"The logistic model could not be fitted ({err}). A predictor may "
                              "separate churners from stayers perfectly; drop or merge it.") from err
    if not res.mle_retvals.get("converged", True) or np.any(np.abs(res.params) > 30):
        raise CXDataError("The logistic model did not converge (coefficients run off to infinity): "
                          "some term separates churners from stayers (almost) perfectly. "
                          "Drop or merge sparse categories.")
    alpha = 1 - confidence
    ci = res.conf_int(alpha)
    ame, ame_se = average_marginal_effects(res.params.to_numpy(), res.cov_params().to_numpy(),
                                           Xc.to_numpy(), terms)
    z = intervals.z_value(confidence)
    terms = pd.concat([pd.DataFrame([("Intercept", "Intercept", "intercept", None)],
                                    columns=terms.columns), terms], ignore_index=True)
    out = terms.assign(
        coef=res.params.to_numpy(), se=res.bse.to_numpy(), z=res.tvalues.to_numpy(),
        p_value=res.pvalues.to_numpy(), odds_ratio=np.exp(res.params.to_numpy()),
        ci_low=np.exp(ci.iloc[:, 0].to_numpy()), ci_high=np.exp(ci.iloc[:, 1].to_numpy()),
        ame=np.r_[np.nan, 100 * ame], ame_se=np.r_[np.nan, 100 * ame_se],
        ame_ci_low=np.r_[np.nan, 100 * (ame - z * ame_se)],
        ame_ci_high=np.r_[np.nan, 100 * (ame + z * ame_se)])
    out.loc[0, ["odds_ratio", "ci_low", "ci_high"]] = np.nan
    return LogitChurn(churned, out, len(y), events, float(res.prsquared), confidence, res, excluded)


def average_marginal_effects(params, cov, X, terms: pd.DataFrame):
    """Average marginal effects of a logit model on the probability scale, with delta-method SEs.

    ``X`` is the design with the intercept first; ``terms`` describes its other columns (term,
    variable, reference; as built by ``churn_logit``). The standard definition (Stata
    ``margins, dydx()``; R ``marginaleffects::avg_slopes``):

    * a level L of a categorical variable: mean over all rows of P(y | row set to L) −
      P(y | row set to the reference), *every* dummy of that variable set accordingly
      (statsmodels' ``get_margeff(dummy=True)`` flips one dummy and leaves the others as they
      are, so a row of a third level is scored as two levels at once);
    * a numeric 0/1 term: the same discrete change from 0 to 1;
    * any other numeric term: mean of β_j p(1 − p).

    SEs: √(g' V g) with g the gradient of the AME in the coefficients (analytic) and V their
    covariance. Returns ``(ame, se)`` as proportions (0–1 scale), one per non-intercept column.

    References
    ----------
    Williams R (2012) Using the margins command to estimate and interpret adjusted predictions
    and marginal effects. Stata Journal 12:308–331.
    """
    beta, V, X = (np.asarray(v, dtype=float) for v in (params, cov, X))
    cols = terms.reset_index(drop=True)
    ame, se = np.empty(len(cols)), np.empty(len(cols))

    def mean_prob_and_grad(Xs):
        p = 1 / (1 + np.exp(-Xs @ beta))
        return p.mean(), (p * (1 - p)) @ Xs / len(Xs)

    for j, t in cols.iterrows():
        col = j + 1
        ref = t["reference"]
        categorical = ref is not None and not (isinstance(ref, float) and np.isnan(ref))
        if categorical:
            siblings = [k + 1 for k in cols.index[cols["variable"] == t["variable"]]]
        else:
            siblings = [col]
        binary = categorical or set(np.unique(X[:, col])) <= {0.0, 1.0}
        if binary:
            X0 = X.copy()
            X0[:, siblings] = 0.0
            X1 = X0.copy()
            X1[:, col] = 1.0
            (m1, g1), (m0, g0) = mean_prob_and_grad(X1), mean_prob_and_grad(X0)
            ame[j], grad = m1 - m0, g1 - g0
        else:
            p = 1 / (1 + np.exp(-X @ beta))
            w = p * (1 - p)
            ame[j] = beta[col] * w.mean()
            grad = beta[col] * ((w * (1 - 2 * p)) @ X) / len(X)
            grad[col] += w.mean()
        se[j] = np.sqrt(max(grad @ V @ grad, 0.0))
    return ame, se


def _events_per_term(events: int, k: int, what: str) -> None:
    if k and events / k < 10:
        warnings.warn(f"{what}: only {events} events (or non-events) for {k} terms "
                      f"({events / k:.1f} per term; 10+ is the usual rule of thumb). "
                      "Estimates may be unstable: use fewer terms.", CXWarning, stacklevel=3)


# ----------------------------------------------------------------------------- Kaplan–Meier

@dataclass(frozen=True, repr=False)
class KaplanMeier:
    """Kaplan–Meier survival (retention) curves by group with a log-rank test.

    ``table``: group, time, at_risk, events, survival (0–1), ci_low, ci_high at every event time.
    ``test``: log-rank chi-square, df, p_value (NaN with one group).
    """

    duration: str
    event: str
    group: str | None
    table: pd.DataFrame
    test: dict
    counts: pd.DataFrame
    confidence: float
    excluded: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"KaplanMeier({self.event!r} over {self.duration!r}"
                + (f" by {self.group!r}" if self.group else "")
                + f": {len(self.counts)} group(s), n = {int(self.counts['n'].sum()):,})")

    _repr_html_ = result_html

    def summary(self) -> pd.DataFrame:
        """Per group: n, events, median survival time (NaN if survival stays above 50 %; the
        midpoint where it equals 50 % over an interval, see :meth:`quantile`), longest
        follow-up; the log-rank test is in ``.test``."""
        return self.counts.copy()

    def at(self, times: float | Sequence[float]) -> pd.DataFrame:
        """Survival (retention, 0–1) with interval at the given times, per group (step function)."""
        times = np.atleast_1d(np.asarray(times, dtype=float))
        rows = []
        for g in self.counts["group"]:
            part = self.table[self.table["group"] == g]
            t = part["time"].to_numpy()
            for when in times:
                idx = np.searchsorted(t, when, side="right") - 1
                if idx < 0:
                    s, lo, hi = 1.0, 1.0, 1.0
                else:
                    s, lo, hi = part[["survival", "ci_low", "ci_high"]].iloc[idx]
                last = self.counts.loc[self.counts["group"] == g, "max_time"].iloc[0]
                beyond = when > last
                rows.append({"group": g, "time": when, "survival": np.nan if beyond else s,
                             "ci_low": np.nan if beyond else lo, "ci_high": np.nan if beyond else hi})
        return pd.DataFrame(rows)

    def quantile(self, probs: float | Sequence[float] = (0.25, 0.5, 0.75)) -> pd.DataFrame:
        """Time by which a share ``p`` of each group has churned (survival 1 − p), per group.

        The conventional definition (R survival's ``quantile.survfit``): the first time the
        curve is at or below 1 − p; where it equals 1 − p over an interval (within 1e-8), the
        midpoint of that interval. NaN where the curve never gets that low. One row per group,
        one column per probability.
        """
        probs = np.atleast_1d(np.asarray(probs, dtype=float))
        if np.any((probs <= 0) | (probs >= 1)):
            raise CXDataError(f"probs must lie strictly between 0 and 1, got {probs.tolist()}.")
        out = {}
        for g, part in self.table.groupby("group", sort=False):
            t, sv = part["time"].to_numpy(), part["survival"].to_numpy()
            out[g] = [survival_quantile(t, sv, 1 - p) for p in probs]
        frame = pd.DataFrame.from_dict(out, orient="index", columns=list(probs))
        frame.index.name, frame.columns.name = "group", "churned_share"
        return frame.loc[[g for g in self.counts["group"] if g in frame.index]]

    def plot(self, *, ax=None, **kwargs):
        from .plots import km_plot
        return km_plot(self, ax=ax, **kwargs)


#: Survival levels closer than this count as equal (R survival uses sqrt(machine epsilon)).
SURVIVAL_TOLERANCE = 1e-8


def survival_quantile(times, survival, threshold: float) -> float:
    """First time a step survival curve is at or below ``threshold``; the midpoint where the curve
    equals ``threshold`` over an interval (to :data:`SURVIVAL_TOLERANCE`), as R's survival does.

    ``times`` are the curve's event times in increasing order, ``survival`` its values there.
    Examples: all of 1, 2, 3, 4 churn -> median 2.5; all of 1..10 -> 5.5. Where the curve
    stays at ``threshold`` to the end of follow-up (no later drop), the first time it got there.
    """
    t, sv = np.asarray(times, dtype=float), np.asarray(survival, dtype=float)
    at_or_below = np.nonzero(sv <= threshold + SURVIVAL_TOLERANCE)[0]
    if not len(at_or_below):
        return np.nan
    i = at_or_below[0]
    if abs(sv[i] - threshold) <= SURVIVAL_TOLERANCE:
        lower = np.nonzero(sv < sv[i] - SURVIVAL_TOLERANCE)[0]
        if len(lower):
            return float((t[i] + t[lower[0]]) / 2)
    return float(t[i])


def kaplan_meier(data: pd.DataFrame, duration: str, event: str, group: str | None = None,
                 confidence: float = 0.95) -> KaplanMeier:
    """Kaplan–Meier estimate of survival per level of ``group`` and a log-rank test.

    ``duration`` is the time from the origin (e.g. the survey date) to churn or censoring;
    ``event`` is 1 for churn, 0 for censored. Intervals are pointwise log(-log) intervals with
    Greenwood's variance (as in lifelines and R's survival with conf.type="log-log").
    """
    from statsmodels.duration.survfunc import SurvfuncRight, survdiff

    cols = [duration, event] + ([group] if group else [])
    df, excluded = _complete(data, cols, "kaplan_meier")
    t = durations(df, duration).to_numpy()
    e = churn_flag(df, event, "event flag").to_numpy()
    if e.sum() == 0:
        raise CXDataError(f"{event!r} has no events (no customer churned) in the {len(df)} rows: "
                          "a survival curve needs at least one churn.")
    labels = (df[group].astype(str).to_numpy() if group else np.full(len(df), "All"))
    if group and isinstance(df[group].dtype, pd.CategoricalDtype):
        levels = [str(c) for c in df[group].cat.categories if (labels == str(c)).any()]
    else:
        levels = sorted(pd.unique(labels))
    z = intervals.z_value(confidence)
    parts, counts = [], []
    for lv in levels:
        m = labels == lv
        sf = SurvfuncRight(t[m], e[m])
        s = sf.surv_prob
        with np.errstate(divide="ignore", invalid="ignore"):
            v = (sf.surv_prob_se / s) ** 2            # Greenwood: sum d / (n (n - d))
            se_ll = np.sqrt(v) / np.abs(np.log(s))
            lo = s ** np.exp(z * se_ll)
            hi = s ** np.exp(-z * se_ll)
        lo = np.where(s >= 1, 1.0, np.where(s <= 0, 0.0, lo))
        hi = np.where(s >= 1, 1.0, np.where(s <= 0, 0.0, hi))
        parts.append(pd.DataFrame({"group": lv, "time": sf.surv_times, "at_risk": sf.n_risk,
                                   "events": sf.n_events, "survival": s, "ci_low": lo, "ci_high": hi}))
        counts.append({"group": lv, "n": int(m.sum()), "events": int(e[m].sum()),
                       "median_time": survival_quantile(sf.surv_times, s, 0.5),
                       "max_time": float(t[m].max())})
    table = pd.concat(parts, ignore_index=True)
    counts = pd.DataFrame(counts)
    if len(levels) >= 2:
        chi2, _ = survdiff(t, e, labels)
        # p from the survival function: survdiff's 1 - cdf underflows to 0 for large statistics
        p = stats.chi2.sf(chi2, len(levels) - 1)
        test = {"statistic": float(chi2), "df": len(levels) - 1, "p_value": float(p),
                "method": "log-rank"}
    else:
        test = {"statistic": np.nan, "df": 0, "p_value": np.nan, "method": "log-rank (one group)"}
    return KaplanMeier(duration, event, group, table, test, counts, confidence, excluded)


# ----------------------------------------------------------------------------- Cox model

def _strict_entry(entry: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Entry times nudged up by a fraction of the smallest gap between distinct times.

    A counting-process row covers (entry, stop]: it is not at risk at an event at time == entry
    (R's coxph, lifelines). statsmodels' PHReg keeps such rows in the risk set (entry <= t), so
    a piece that starts where another piece of the same customer stops would be counted twice.
    Shifting entries by less than any gap between distinct times gives exactly the (entry, stop]
    risk sets.
    """
    times = np.unique(np.concatenate([entry, stop]))
    gap = np.diff(times).min() if times.size > 1 else 1.0
    return entry + gap * 1e-3


@dataclass(frozen=True, repr=False)
class CoxChurn:
    """Cox proportional-hazards model of time to churn: hazard ratios with intervals."""

    duration: str
    event: str
    terms: pd.DataFrame
    n: int
    events: int
    confidence: float
    fit: object = field(repr=False)
    excluded: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"CoxChurn({self.event!r} over {self.duration!r}: {len(self.terms)} terms, "
                f"n = {self.n:,}, events = {self.events:,})")

    _repr_html_ = result_html

    def summary(self) -> pd.DataFrame:
        """One row per term: coef (log hazard ratio), se, z, p_value, hazard_ratio, ci_low, ci_high."""
        return self.terms.copy()

    def hazard_ratio(self, term: str) -> pd.Series:
        return self.terms.set_index("term").loc[term, ["hazard_ratio", "ci_low", "ci_high"]]

    def plot(self, *, ax=None, **kwargs):
        from .plots import forest_plot
        kwargs.setdefault("title", f"Cox model of time to churn: hazard ratios "
                                   f"(n = {self.n:,}, churners = {self.events:,})")
        return forest_plot(self.terms, estimate="hazard_ratio", label="Hazard ratio of churn",
                           ax=ax, **kwargs)


def churn_cox(data: pd.DataFrame, duration: str, event: str, predictors: str | Sequence[str],
              controls: Sequence[str] = (), reference: Mapping[str, object] | None = None,
              strata: str | None = None, entry: str | None = None, ties: str = "efron",
              confidence: float = 0.95) -> CoxChurn:
    """Cox model of time to churn (``duration``, ``event`` 1 = churned) on ``predictors`` plus
    ``controls``, partial likelihood with Efron ties (statsmodels ``PHReg``).

    Hazard ratio exp(b) per unit of each term with Wald intervals; ``strata`` fits a separate
    baseline hazard per level of that column; ``entry`` names a column of entry times for
    counting-process / left-truncated data (a row is at risk on ``(entry, duration]``, e.g. the
    pieces from :func:`monthly_intervals`). Rows with missing values are excluded and reported.
    """
    from statsmodels.duration.hazard_regression import PHReg

    predictors, controls = _as_list(predictors), _as_list(controls)
    if not predictors:
        raise CXDataError("churn_cox needs at least one predictor, e.g. predictors='ltr'.")
    if ties not in ("efron", "breslow"):
        raise CXDataError(f"ties must be 'efron' or 'breslow', not {ties!r}.")
    cols = [duration, event, *predictors, *controls] + ([strata] if strata else []) + \
        ([entry] if entry else [])
    df, excluded = _complete(data, cols, "churn_cox")
    t = durations(df, duration)
    t0 = None
    if entry:
        t0 = durations(df, entry)
        bad = t0 >= t
        if bad.any():
            raise CXDataError(f"Entry column {entry!r} is not before {duration!r} in {bad.sum()} row(s) "
                              f"(rows {_preview(df.index[bad])}): each row must cover a time span.")
        t0 = _strict_entry(t0.to_numpy(), t.to_numpy())
    e = churn_flag(df, event, "event flag")
    events = int(e.sum())
    if events == 0:
        raise CXDataError(f"{event!r} has no events (no customer churned) in the {len(df)} rows "
                          "analysed: a Cox model needs churners. Widen the follow-up or the selection.")
    X, terms = design_matrix(df, predictors, controls, reference)
    _events_per_term(events, X.shape[1], "churn_cox")
    st = df[strata].astype(str).to_numpy() if strata else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = PHReg(t.to_numpy(), X, status=e.to_numpy(), ties=ties, strata=st,
                        entry=t0).fit()
        except Exception as err:
            raise CXDataError(f"The Cox model could not be fitted ({err}).") from err
    params = np.asarray(res.params)
    if not np.all(np.isfinite(params)) or np.any(np.abs(params) > 30):
        raise CXDataError("The Cox model did not converge (a coefficient runs off to infinity): "
                          "some term separates churners from stayers (almost) perfectly.")
    ci = np.asarray(res.conf_int(1 - confidence))
    out = terms.assign(coef=params, se=np.asarray(res.bse), z=np.asarray(res.tvalues),
                       p_value=np.asarray(res.pvalues), hazard_ratio=np.exp(params),
                       ci_low=np.exp(ci[:, 0]), ci_high=np.exp(ci[:, 1]))
    return CoxChurn(duration, event, out, len(df), events, confidence, res, excluded)


# ----------------------------------------------------------------------------- analysis frame

TENURE_BANDS = ("<12", "12-24", ">=24")


def tenure_band(months) -> pd.Series:
    """Tenure band of a tenure in months: ``<12``, ``12-24`` (12 ≤ t < 24), ``>=24``."""
    t = pd.Series(months, dtype=float)
    out = np.select([t < 12, t < 24], ["<12", "12-24"], ">=24").astype(object)
    out[t.isna().to_numpy()] = None
    return pd.Series(pd.Categorical(out, categories=list(TENURE_BANDS)), index=t.index,
                     name="tenure_band")


def _dates(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    raw = frame[column]
    out = pd.to_datetime(raw, errors="coerce")
    bad = out.isna() & raw.notna()
    if bad.any():
        raise CXDataError(f"{what} column {column!r} has values that are not dates: "
                          f"{_preview(pd.unique(raw[bad].astype(str)))} at rows {_preview(raw.index[bad])}. "
                          "Use ISO dates (YYYY-MM-DD).")
    return out.astype("datetime64[ns]")


def _days(a: pd.Series | np.ndarray, b) -> np.ndarray:
    """Whole days from ``b`` to ``a`` (a − b), float with NaN for missing."""
    return np.asarray((pd.Series(a) - pd.Series(b)).dt.days, dtype=float) if isinstance(b, pd.Series) \
        else np.asarray((pd.Series(a) - b).dt.days, dtype=float)


def _month_index(dates: pd.Series) -> np.ndarray:
    d = pd.DatetimeIndex(dates)
    return np.asarray(d.year * 12 + d.month - 1, dtype=np.int64)


def _observation_end(company, observation_end, customers, survey) -> pd.Timestamp:
    if observation_end is None:
        truth = getattr(company, "truth", None)
        if isinstance(truth, Mapping) and truth.get("observation_end"):
            observation_end = truth["observation_end"]
    if observation_end is None:
        latest = max(pd.Series(customers["end_date"]).max(), survey["survey_date"].max())
        warnings.warn(f"observation_end not given: using the latest date in the data, {latest:%Y-%m-%d}. "
                      "Pass observation_end='YYYY-MM-DD' (the last day customers were observed) "
                      "to be exact.", CXWarning, stacklevel=3)
        observation_end = latest
    return pd.Timestamp(observation_end).normalize()


def _unresolved_lookup(contacts: pd.DataFrame | None, customer_ids: pd.Series,
                       months: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (customer, calendar month index): 1 if a contact with fcr = 0 fell in the three
    calendar months before that month, NaN when those months precede the contact log."""
    if contacts is None:
        return np.full(len(months), np.nan), np.full(len(months), np.nan)
    log_start = int(_month_index(pd.Series([contacts["contact_date"].min()]))[0])
    cust, uniq = pd.factorize(pd.Series(customer_ids))
    cust = cust.astype(np.int64)
    ccode = pd.Index(uniq).get_indexer(contacts["customer_id"])
    known = ccode >= 0
    cm = _month_index(contacts["contact_date"])[known]
    ccode = ccode[known].astype(np.int64)
    unresolved = contacts["fcr"].to_numpy()[known] == 0
    stride = 1 << 32
    key_unres = np.unique(ccode[unresolved] * stride + cm[unresolved])
    key_any = pd.Series(ccode * stride + cm).value_counts()
    flag = np.zeros(len(months))
    count = np.zeros(len(months))
    for lag in (1, 2, 3):
        k = cust * stride + (months - lag)
        flag = np.maximum(flag, np.isin(k, key_unres))
        count += key_any.reindex(k).fillna(0).to_numpy()
    incomplete = months - 3 < log_start
    flag[incomplete] = np.nan
    count[incomplete] = np.nan
    return flag, count


def analysis_frame(company=None, *, customers: pd.DataFrame | None = None,
                   survey: pd.DataFrame | None = None, contacts: pd.DataFrame | None = None,
                   responses: str | Sequence[str] = "all", follow_up: float | str | None = None,
                   horizon: float = 12, observation_end=None) -> pd.DataFrame:
    """One row per survey response (episode) with the customer's outcome after it.

    Time origin is the survey date. An episode ends at the first of: churn (``end_date``), the
    customer's next survey response (with ``responses="all"`` each new answer replaces the old
    one, so episodes of one customer never overlap), the follow-up limit, and the end of
    observation (``observation_end`` is the last day observed; still-active customers are
    censored at the end of that day). Only information dated on or before the survey date enters
    the predictors (tenure at survey, unresolved contacts in the three calendar months before the
    survey month), so there is no look-ahead.

    responses : "all" (every response), "first" or "latest" (one per customer), or wave label(s).
    follow_up : None (as long as observed), a number of months, or "quarter" (to the end of the
        calendar quarter of the survey: the period the answer describes).
    horizon : months for the fixed-horizon flag ``churn_<horizon>m`` = 1 if the customer churned
        within that many months of the survey, 0 if observed longer without churning, and
        missing if censored earlier (not yet knowable).

    Columns: customer_id, response_id, wave, survey_date, stop_date, start_date, segment, region,
    plan, channel, monthly_revenue, tenure_at_survey, tenure_band, the survey's score columns,
    nps_group, unresolved_3m, contacts_3m (with contacts), duration (months), churned (event
    within the episode), churn_<h>m. ``frame.attrs`` records the design and what was excluded.
    """
    if company is not None:
        customers = company.customers if customers is None else customers
        survey = company.survey if survey is None else survey
        contacts = getattr(company, "contacts", None) if contacts is None else contacts
    if customers is None or survey is None:
        raise CXDataError("analysis_frame needs a company (with .customers and .survey) or both "
                          "customers= and survey= frames.")
    require_frame(customers, "customers")
    require_frame(survey, "survey")
    require_columns(customers, ["customer_id", "start_date", "end_date", "churned"], "customers")
    require_columns(survey, ["customer_id", "survey_date"], "survey")
    cust = customers.copy()
    cust["start_date"] = _dates(cust, "start_date", "customers")
    cust["end_date"] = _dates(cust, "end_date", "customers")
    flag = churn_flag(cust, "churned")
    dup = cust["customer_id"].duplicated(keep=False)
    if dup.any():
        raise CXDataError(f"customers has duplicated customer_id values "
                          f"{_preview(pd.unique(cust.loc[dup, 'customer_id']))}: one row per customer is needed.")
    mismatch = (flag == 1) != cust["end_date"].notna()
    if mismatch.any():
        raise CXDataError(f"customers: churned and end_date disagree in {mismatch.sum()} row(s) "
                          f"(rows {_preview(cust.index[mismatch])}): churned = 1 needs an end_date and "
                          "churned = 0 needs none.")
    bad_order = cust["end_date"].notna() & (cust["end_date"] < cust["start_date"])
    if bad_order.any():
        raise CXDataError(f"customers: end_date before start_date at rows {_preview(cust.index[bad_order])}.")
    obs_end = _observation_end(company, observation_end, cust, survey.assign(
        survey_date=_dates(survey, "survey_date", "survey")))
    censor_at = obs_end + pd.Timedelta(days=1)
    late = cust["end_date"] > censor_at
    if late.any():
        raise CXDataError(f"customers: {late.sum()} end_date(s) after observation_end {obs_end:%Y-%m-%d} "
                          f"(rows {_preview(cust.index[late])}). Pass the right observation_end.")

    sv = survey.copy()
    sv["survey_date"] = _dates(sv, "survey_date", "survey")
    excluded: dict[str, int] = {}

    def drop(mask, reason):
        n = int(mask.sum())
        if n:
            excluded[reason] = n
        return ~mask

    keep = drop(sv["survey_date"].isna().to_numpy(), "no survey_date")
    keep &= drop((~sv["customer_id"].isin(cust["customer_id"])).to_numpy(), "customer not in customers")
    sv = sv.loc[keep]
    info = cust.set_index("customer_id")
    start = info["start_date"].reindex(sv["customer_id"]).to_numpy()
    end = info["end_date"].reindex(sv["customer_id"]).to_numpy()
    keep = drop((sv["survey_date"].to_numpy() < start), "survey_date before the customer's start_date")
    keep &= drop((~pd.isna(end)) & (sv["survey_date"].to_numpy() >= end),
                 "survey_date on or after the customer's end_date")
    keep &= drop((sv["survey_date"] > obs_end).to_numpy(), "survey_date after observation_end")
    sv = sv.loc[keep].sort_values(["customer_id", "survey_date"], kind="stable")
    if "response_id" not in sv.columns:
        sv["response_id"] = [f"row{i}" for i in sv.index]

    next_date = sv.groupby("customer_id")["survey_date"].shift(-1)
    if isinstance(responses, str) and responses == "all":
        pass
    elif isinstance(responses, str) and responses in ("first", "latest"):
        pick = sv.groupby("customer_id").head(1) if responses == "first" else sv.groupby("customer_id").tail(1)
        sv = pick
        next_date = pd.Series(pd.NaT, index=sv.index, dtype="datetime64[ns]")
    else:
        waves = [responses] if isinstance(responses, str) else list(responses)
        require_columns(sv, ["wave"], "survey")
        unknown = [w for w in waves if w not in set(sv["wave"].astype(str))]
        if unknown:
            raise CXDataError(f"No survey responses in wave(s) {_preview(unknown)}. Waves present: "
                              f"{_preview(sorted(pd.unique(sv['wave'].astype(str))), 12)}.")
        inwave = sv["wave"].astype(str).isin(waves)
        next_in = sv[inwave].groupby("customer_id")["survey_date"].shift(-1)
        sv = sv[inwave]
        next_date = next_in
    if len(sv) == 0:
        raise CXDataError("No survey response is left to analyse after the exclusions: "
                          f"{excluded or 'none'}.")

    origin = sv["survey_date"]
    stop = pd.Series(censor_at, index=sv.index, dtype="datetime64[ns]")
    stop = stop.where(next_date.isna() | (next_date >= stop), next_date)
    if follow_up is not None:
        if isinstance(follow_up, str):
            if follow_up != "quarter":
                raise CXDataError(f"follow_up must be None, a number of months or 'quarter', not {follow_up!r}.")
            cap = (origin.dt.to_period("Q").dt.end_time.dt.normalize() + pd.Timedelta(days=1))
        else:
            if not follow_up > 0:
                raise CXDataError(f"follow_up must be a positive number of months, not {follow_up!r}.")
            cap = origin + pd.to_timedelta(np.round(follow_up * DAYS_PER_MONTH), unit="D")
        stop = stop.where(stop <= cap, cap.astype("datetime64[ns]"))
    end_c = pd.Series(info["end_date"].reindex(sv["customer_id"]).to_numpy(), index=sv.index)
    event = end_c.notna() & (end_c <= stop)
    stop = stop.where(~event, end_c)

    out = pd.DataFrame({"customer_id": sv["customer_id"], "response_id": sv["response_id"]})
    if "wave" in sv.columns:
        out["wave"] = sv["wave"].astype(str)
    out["survey_date"] = origin
    out["stop_date"] = stop
    out["start_date"] = info["start_date"].reindex(sv["customer_id"]).to_numpy()
    for col in ("segment", "region", "plan", "channel", "monthly_revenue"):
        if col in sv.columns:
            out[col] = sv[col]
        elif col in info.columns:
            out[col] = info[col].reindex(sv["customer_id"]).to_numpy()
    out["tenure_at_survey"] = _days(origin, out["start_date"]) / DAYS_PER_MONTH
    out["tenure_band"] = tenure_band(out["tenure_at_survey"]).to_numpy()
    skip = {"customer_id", "response_id", "wave", "survey_date", "segment", "region", "plan",
            "channel", "monthly_revenue"}
    for col in sv.columns:
        if col not in skip and col not in out.columns:
            out[col] = sv[col]
    if "ltr" in out.columns:
        out["nps_group"] = nps_group(out["ltr"]).to_numpy()
    if contacts is not None:
        require_columns(contacts, ["customer_id", "contact_date", "fcr"], "contacts")
        ct = contacts.assign(contact_date=_dates(contacts, "contact_date", "contacts"))
        flag, count = _unresolved_lookup(ct, out["customer_id"], _month_index(origin))
        out["unresolved_3m"] = flag
        out["contacts_3m"] = count
    out["duration"] = _days(stop, origin) / DAYS_PER_MONTH
    out["churned"] = event.astype(int).to_numpy()
    h_days = horizon * DAYS_PER_MONTH
    to_end = _days(end_c, origin)
    observed = _days(pd.Series(censor_at, index=sv.index), origin)
    # Defined only where the whole horizon lies inside the observation window: otherwise recent
    # answers would count their early leavers but not their stayers (an upward bias).
    churned_within = ~np.isnan(to_end) & (to_end <= h_days)
    flag_h = np.where(observed >= h_days, churned_within.astype(float), np.nan)
    out[f"churn_{horizon:g}m"] = flag_h
    out = out.sort_values(["survey_date", "customer_id"], kind="stable").reset_index(drop=True)
    if excluded:
        warnings.warn("analysis_frame excluded survey responses: " + "; ".join(
            f"{k}: {v}" for k, v in excluded.items()) + ".", CXWarning, stacklevel=2)
    out.attrs = {"observation_end": f"{obs_end:%Y-%m-%d}", "responses": str(responses),
                 "follow_up": follow_up, "horizon_months": horizon, "excluded": excluded,
                 "time_origin": "survey_date", "duration_unit": f"months of {DAYS_PER_MONTH} days"}
    return out


def monthly_intervals(frame: pd.DataFrame, contacts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Split each episode of :func:`analysis_frame` at calendar-month boundaries (counting process).

    Each row is one (customer, calendar month) piece ``(start, stop]`` in months since the survey,
    with time-varying ``tenure_band`` (tenure at the month's first day) and, given contacts,
    ``unresolved_3m`` (a contact with fcr = 0 in the three calendar months before that month;
    missing where the contact log does not reach back that far). ``churned`` is 1 only on the
    piece in which the customer left. Fit with ``churn_cox(..., duration="stop", entry="start")``.
    """
    require_frame(frame, "frame")
    require_columns(frame, ["customer_id", "survey_date", "stop_date", "start_date", "churned"], "frame")
    origin = pd.DatetimeIndex(frame["survey_date"])
    stop = pd.DatetimeIndex(frame["stop_date"])
    m0 = _month_index(frame["survey_date"])
    # month containing the instant just before stop: a churn on the 1st ends the previous month
    m1 = _month_index(pd.Series(stop - pd.Timedelta(days=1)))
    m1 = np.maximum(m1, m0)
    reps = (m1 - m0 + 1).astype(np.int64)
    row = np.repeat(np.arange(len(frame)), reps)
    month = m0[row] + (np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps))
    first_day = pd.to_datetime(pd.DataFrame({"year": month // 12, "month": month % 12 + 1, "day": 1}))
    next_first = pd.to_datetime(pd.DataFrame({"year": (month + 1) // 12, "month": (month + 1) % 12 + 1,
                                              "day": 1}))
    o = origin[row]
    piece_start = np.maximum(first_day.to_numpy(), o.to_numpy())
    piece_stop = np.minimum(next_first.to_numpy(), stop[row].to_numpy())
    out = frame.iloc[row].reset_index(drop=True)
    out["start"] = (pd.Series(piece_start) - pd.Series(o)).dt.days.to_numpy() / DAYS_PER_MONTH
    out["stop"] = (pd.Series(piece_stop) - pd.Series(o)).dt.days.to_numpy() / DAYS_PER_MONTH
    last = np.r_[row[1:] != row[:-1], True]
    out["churned"] = np.where(last, frame["churned"].to_numpy()[row], 0)
    tenure = (first_day - pd.Series(out["start_date"])).dt.days.to_numpy() / DAYS_PER_MONTH
    out["tenure_band"] = tenure_band(tenure).to_numpy()
    if contacts is not None:
        ct = contacts.assign(contact_date=_dates(contacts, "contact_date", "contacts"))
        flag, count = _unresolved_lookup(ct, out["customer_id"], month)
        out["unresolved_3m"] = flag
        out["contacts_3m"] = count
    out = out[out["stop"] > out["start"]].reset_index(drop=True)
    out.attrs = {**frame.attrs, "split": "calendar month"}
    return out


# ----------------------------------------------------------------------------- drivers of churn

def churn_drivers(data: pd.DataFrame, churned: str, drivers: Sequence[str], method: str = "lmg",
                  bootstrap: int = 0, seed: int = 0, progress: bool = True, **kwargs):
    """Relative importance of ``drivers`` for the 0/1 churn flag: ``cx.drivers.analyze`` with a
    logistic model (dominance analysis of McFadden's pseudo-R², Azen & Traxel 2009).

    Returns a :class:`cxlab.drivers.DriverResult`; ``bootstrap`` > 0 adds intervals.
    """
    from . import drivers as _drivers

    df, _ = _complete(data, [churned, *drivers], "churn_drivers")
    y = churn_flag(df, churned)
    if y.sum() == 0 or y.sum() == len(y):
        raise CXDataError(f"{churned!r} has no churners (or only churners) in the {len(y)} rows: "
                          "nothing to explain.")
    return _drivers.analyze(df.assign(**{churned: y}), churned, list(drivers), method=method,
                            bootstrap=bootstrap, seed=seed, family="logistic", progress=progress,
                            **kwargs)


@dataclass(frozen=True, repr=False)
class DriverComparison:
    """What drives the score vs what drives leaving, on the same respondents.

    ``table``: one row per driver with ``share_score``, ``rank_score``, ``share_churn``,
    ``rank_churn`` (share of explained variance / pseudo-R², rank 1 = most important),
    ``rank_change`` = rank_score − rank_churn (positive: matters more for leaving than for the
    score), and share intervals when bootstrapped.
    """

    score: str
    churned: str
    table: pd.DataFrame
    score_result: object = field(repr=False)    # the two DriverResults: R², model, method
    churn_result: object = field(repr=False)
    n: int = 0
    excluded: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"DriverComparison({self.score!r} vs {self.churned!r}: {len(self.table)} drivers, "
                f"n = {self.n:,})")

    _repr_html_ = result_html

    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    def plot(self, *, ax=None, **kwargs):
        from .plots import driver_comparison_plot
        return driver_comparison_plot(self, ax=ax, **kwargs)


def compare_driver_lists(data: pd.DataFrame, score: str, churned: str, drivers: Sequence[str],
                         method: str = "lmg", bootstrap: int = 0, seed: int = 0,
                         progress: bool = True) -> DriverComparison:
    """Side by side: relative importance of ``drivers`` for the ``score`` (linear model, R²) and
    for ``churned`` (logistic model, McFadden pseudo-R²), on the rows where all are present.

    Shares (importance / total) make the two lists comparable; ranks show where they disagree —
    e.g. price or billing problems that barely move the score but make customers leave.
    ``bootstrap`` > 0 adds percentile intervals for each share (slow for the churn model).
    """
    from . import drivers as _drivers

    drivers = list(drivers)
    if len(drivers) < 2:
        raise CXDataError("compare_driver_lists needs at least two drivers to rank.")
    df, excluded = _complete(data, [score, churned, *drivers], "compare_driver_lists")
    y = churn_flag(df, churned)
    if y.sum() == 0 or y.sum() == len(y):
        raise CXDataError(f"{churned!r} has no churners (or only churners) among the {len(y)} "
                          "complete rows: nothing to compare.")
    df = df.assign(**{churned: y})
    a = _drivers.analyze(df, score, drivers, method=method, bootstrap=bootstrap, seed=seed,
                         family="linear", progress=progress)
    b = _drivers.analyze(df, churned, drivers, method=method, bootstrap=bootstrap, seed=seed,
                         family="logistic", progress=progress)
    ia, ib = a.importance.loc[drivers], b.importance.loc[drivers]
    table = pd.DataFrame({"driver": drivers,
                          "share_score": ia["share"].to_numpy(), "rank_score": ia["rank"].to_numpy(),
                          "share_churn": ib["share"].to_numpy(), "rank_churn": ib["rank"].to_numpy()})
    if bootstrap:
        table["score_ci_low"], table["score_ci_high"] = ia["share_ci_low"].to_numpy(), ia["share_ci_high"].to_numpy()
        table["churn_ci_low"], table["churn_ci_high"] = ib["share_ci_low"].to_numpy(), ib["share_ci_high"].to_numpy()
    table["rank_change"] = table["rank_score"] - table["rank_churn"]
    table = table.sort_values("rank_churn", kind="stable").reset_index(drop=True)
    return DriverComparison(score, churned, table, a, b, len(df), excluded)


# ----------------------------------------------------------------------------- customer periods

def customer_periods(customers, freq: str = "Q", *, observation_end=None,
                     start=None) -> pd.DataFrame:
    """One row per customer and calendar period (quarter by default) the customer began as a
    customer: the risk set of a discrete-time churn analysis ("who was a customer on the first
    day of the quarter, and did they leave during it?").

    A customer is at risk in the period [s, e) when ``start_date`` <= s and ``end_date`` (the
    first day no longer a customer, as in :func:`analysis_frame`) is missing or after s;
    ``churned`` = 1 when ``end_date`` <= e. The mean of ``churned`` in a period is the share of
    the customers at its start who left during it (the discrete-time hazard); customers who join
    mid-period enter from the next period. The person-period likelihood factorises over periods,
    so rates and differences of periods can be treated as binomial (Allison 1982, Sociological
    Methodology 13:61-98), e.g. with ``cx.metrics.table(panel, "churned", metric="top_box",
    scale=(0, 1), top=(1,), by=["region", "period"])`` or ``cx.metrics.change``.

    ``customers`` is the customer table or a company (its ``truth["observation_end"]`` is used,
    and ``truth["start"]``, when churn was first observed, is the default ``start``). Periods
    ending after ``observation_end`` (the last day observed) are not fully observed and are left
    out, with a CXWarning; ``start`` (e.g. "2024Q4") drops earlier periods.
    Columns: the customer columns except ``churned`` and ``tenure_months``, then ``period``
    (e.g. "2026Q2"), ``period_start``, ``churned`` (0/1 in the period), ``entry`` and ``exit``:
    tenure in months at the period start and at churn or the period end, for a counting-process
    Cox model, ``churn_cox(panel, duration="exit", entry="entry", event="churned", ...)``.
    """
    company = None
    if not isinstance(customers, pd.DataFrame) and hasattr(customers, "customers"):
        company, customers = customers, customers.customers
    require_frame(customers, "customers")
    require_columns(customers, ["customer_id", "start_date", "end_date"], "customers")
    cust = customers.copy()
    cust["start_date"] = _dates(cust, "start_date", "customers")
    cust["end_date"] = _dates(cust, "end_date", "customers")
    if cust["start_date"].isna().any():
        rows = cust.index[cust["start_date"].isna()]
        raise CXDataError(f"customers: start_date is missing at rows {_preview(rows)}; every "
                          "customer needs one.")
    bad = cust["end_date"].notna() & (cust["end_date"] < cust["start_date"])
    if bad.any():
        raise CXDataError(f"customers: end_date before start_date at rows {_preview(cust.index[bad])}.")
    truth = getattr(company, "truth", None)
    if isinstance(truth, Mapping):
        if observation_end is None and truth.get("observation_end"):
            observation_end = truth["observation_end"]
        if start is None and truth.get("start"):
            start = pd.Timestamp(truth["start"])     # no churn was recorded before it
    if observation_end is None:
        observation_end = pd.concat([cust["end_date"], cust["start_date"]]).max()
        warnings.warn(f"observation_end not given: using the latest date in the data, "
                      f"{observation_end:%Y-%m-%d}. Pass observation_end='YYYY-MM-DD' (the last "
                      "day customers were observed) to be exact.", CXWarning, stacklevel=2)
    obs_end = pd.Timestamp(observation_end).normalize()
    late = cust["end_date"] > obs_end + pd.Timedelta(days=1)
    if late.any():
        raise CXDataError(f"customers: {late.sum()} end_date(s) after observation_end "
                          f"{obs_end:%Y-%m-%d} (rows {_preview(cust.index[late])}). Pass the right "
                          "observation_end.")
    try:
        periods = pd.period_range(cust["start_date"].min(), obs_end, freq=freq)
    except (ValueError, TypeError) as err:
        raise CXDataError(f"freq must be a pandas period frequency such as 'Q' (quarters) or 'M' "
                          f"(months), not {freq!r} ({err}).") from None
    if start is not None:
        try:
            first = pd.Period(start, freq=freq)
        except (ValueError, TypeError):
            raise CXDataError(f"start={start!r} is not a period like '2024Q4' (freq {freq!r}).") from None
        periods = periods[periods >= first]
    partial = [str(p) for p in periods if p.end_time.normalize() > obs_end]
    periods = [p for p in periods if p.end_time.normalize() <= obs_end]
    if partial:
        warnings.warn(f"customer_periods left out period(s) {_preview(partial)}: they end after "
                      f"observation_end {obs_end:%Y-%m-%d}, so churn in them is not fully observed.",
                      CXWarning, stacklevel=2)
    if not periods:
        raise CXDataError("No complete period lies between the first start_date and "
                          f"observation_end {obs_end:%Y-%m-%d}: nothing to tabulate.")
    keep = [c for c in cust.columns if c not in ("churned", "tenure_months")]
    pieces = []
    for p in periods:
        s, e = p.start_time, (p + 1).start_time
        at_risk = (cust["start_date"] <= s) & (cust["end_date"].isna() | (cust["end_date"] > s))
        rows = cust.loc[at_risk, keep]
        end = cust.loc[at_risk, "end_date"]
        left = end.notna() & (end <= e)
        stop = end.where(left, e)
        pieces.append(rows.assign(
            period=str(p), period_start=pd.Timestamp(s).as_unit("ns"), churned=left.astype(int),
            entry=_days(pd.Series(s, index=rows.index), rows["start_date"]) / DAYS_PER_MONTH,
            exit=_days(stop, rows["start_date"]) / DAYS_PER_MONTH))
    out = pd.concat(pieces, ignore_index=True)
    out.attrs = {"freq": freq, "observation_end": f"{obs_end:%Y-%m-%d}", "left_out": partial,
                 "time_origin": "start_date", "duration_unit": f"months of {DAYS_PER_MONTH} days"}
    return out

