"""One vocabulary across the statistical modules (issue 10): ``confidence`` for every confidence
level (default 0.95 from :data:`cxlab.contract.CONFIDENCE`), ``min_base`` for the minimum base
(default :data:`cxlab.contract.MIN_BASE`), keyword-only ``ax`` in every plotting function, and
old keyword names that still work for one release with a DeprecationWarning."""

import inspect
import warnings

import pytest

import cxlab as cx
from cxlab import contract, frontline, metrics, plots, retention, value, whatif

MODULES = [metrics, retention, value, whatif, frontline, plots, cx.drivers]
OLD_NAMES = {"conf", "level", "alpha_level", "ci_level", "min_n", "min_count", "min_cell",
             "minimum_base"}
ALLOWED = {("frontline", "engagement_link", "level"),   # deprecated alias of unit=
           ("drivers", "analyze", "conf"),              # deprecated alias of confidence=
           ("drivers", "percentile_interval", "conf")}  # drivers.py is H3a's (issue 10 note)


def _public_callables():
    for mod in MODULES:
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(obj):
                yield mod.__name__.rsplit(".", 1)[-1], name, obj
            elif inspect.isclass(obj):
                for meth_name, meth in vars(obj).items():
                    if inspect.isfunction(meth) and not meth_name.startswith("_"):
                        yield mod.__name__.rsplit(".", 1)[-1], f"{name}.{meth_name}", meth


def test_confidence_and_min_base_are_the_only_names():
    offenders = []
    for mod, name, fn in _public_callables():
        for p in inspect.signature(fn).parameters.values():
            if p.name in OLD_NAMES and (mod, name, p.name) not in ALLOWED:
                offenders.append(f"{mod}.{name}({p.name}=)")
            if p.name == "confidence" and p.default is not inspect.Parameter.empty:
                assert p.default == contract.CONFIDENCE, f"{mod}.{name}"
            if p.name == "min_base" and p.default is not inspect.Parameter.empty \
                    and name != "scorecard_validity":        # a model needs 100, stated there
                assert p.default == contract.MIN_BASE, f"{mod}.{name}"
    assert not offenders, offenders


def test_ax_is_keyword_only_everywhere():
    # drivers.py's three plot methods still take ax positionally (its owner's file; noted)
    positional = [f"{mod}.{name}" for mod, name, fn in _public_callables() if mod != "drivers"
                  if "ax" in inspect.signature(fn).parameters
                  and inspect.signature(fn).parameters["ax"].kind
                  is not inspect.Parameter.KEYWORD_ONLY]
    assert not positional, positional


def test_old_keywords_warn_and_still_work():
    company = cx.datasets.load("kestrel")
    with pytest.warns(DeprecationWarning, match="unit="):
        old = frontline.engagement_link(company.pulse, company.contacts, level="team_wave")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        new = frontline.engagement_link(company.pulse, company.contacts, unit="team_wave")
    assert (old.unit, old.slope) == (new.unit, new.slope) and old.level == "team_wave"
    survey = company.survey.query("wave == '2026Q3'")
    drivers = ["network_reliability", "price_value", "billing_accuracy"]
    with pytest.warns(DeprecationWarning, match="confidence="):
        old = cx.drivers.analyze(survey, "ltr", drivers, bootstrap=50, conf=0.9, progress=False)
    new = cx.drivers.analyze(survey, "ltr", drivers, bootstrap=50, confidence=0.9, progress=False)
    assert old.confidence == new.confidence == old.conf == 0.9
    assert old.importance.equals(new.importance)


def test_the_defaults_live_in_the_contract():
    assert metrics.DEFAULT_MIN_BASE is contract.MIN_BASE == 30
    assert contract.CONFIDENCE == 0.95
    from cxlab.exercises import course08
    assert course08.MIN_BASE is contract.MIN_BASE


def test_result_objects_show_a_short_repr_and_an_html_table():
    company = cx.datasets.load("kestrel")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cx.checks.CXWarning)
        frame = retention.analysis_frame(company)
        results = [
            retention.churn_by_group(frame, "nps_group", churned="churn_12m"),
            retention.kaplan_meier(frame, "duration", "churned", group="plan"),
            retention.churn_logit(frame, "churn_12m", "ltr", controls=["plan"]),
            retention.churn_cox(frame, "duration", "churned", "ltr"),
            frontline.engagement_link(company.pulse, company.contacts),
            whatif.chain(company, [whatif.move_detractors(0.2)], ["price_value"], bootstrap=0,
                         progress=False),
        ]
    for res in results:
        text = repr(res)
        assert text.startswith(type(res).__name__ + "(") and len(text) < 200 and "\n" not in text
        html = res._repr_html_()
        assert "<table" in html and html.count("<tr") <= 40      # a summary, not the whole frame
