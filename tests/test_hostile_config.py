"""Hostile study configurations and numbers (issue 15 defects 14, 17, 19, 20, 23).

Each attack gets a CXDataError (or a CXWarning) that names the key, the value and the fix —
never a traceback from int()/float()/dict(), a MemoryError or a silent coercion.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import cxlab as cx
from cxlab.checks import CXDataError, CXWarning
from cxlab.study import schema as sc

BASE = {"outcome": {"column": "ltr", "scale": [0, 10]},
        "drivers": {"scale": [1, 5], "columns": ["a", "b"]},
        "data": "survey.csv"}


def _schema(**extra):
    return sc.StudySchema.from_dict({**BASE, **extra})


# ------------------------------------------------------------------ defect 14: values

@pytest.mark.parametrize("extra, words", [
    ({"seed": "abc"}, ["seed", "'abc'", "whole number"]),
    ({"analysis": {"seed": 1.5}}, ["seed", "1.5"]),
    ({"confidence": "high"}, ["confidence", "'high'", "0.95"]),
    ({"analysis": {"confidence": True}}, ["confidence", "True", "0.95"]),
    ({"filter": ["region"]}, ["filter", "['region']", "filter: {region: [North, South]}"]),
    ({"filter": {"region": [["North"]]}}, ["filter 'region'", "single values"]),
    ({"read": "comma"}, ["read", "'comma'", "delimiter"]),
    ({"read": {"delimeter": ";"}}, ["'delimeter'", "did you mean 'delimiter'"]),
    ({"read": {"encoding": "klingon"}}, ["encoding 'klingon'", "cp1250"]),
    ({"read": {"chunksize": -1}}, ["chunksize", "-1", "positive"]),
    ({"read": {"chunksize": True}}, ["chunksize", "boolean"]),
    ({"read": {"delimiter": ";;"}}, ["delimiter", "one character"]),
    ({"data": {"path": "s.csv", "encodng": "utf-8"}}, ["'encodng'", "did you mean 'encoding'"]),
    ({"customers": {"path": "c.csv", "id": "cid", "revenue_periods_per_year": "monthly"}},
     ["revenue_periods_per_year", "'monthly'", "12 for monthly"]),
    ({"customers": {"path": "c.csv", "id": "cid", "revenue_periods_per_year": 0}},
     ["revenue_periods_per_year", "positive"]),
    ({"customers": {"path": "c.csv", "id": "cid", "read": {"sep": ";"}}},
     ["'sep'", "customers read"]),
])
def test_bad_values_are_named_with_the_fix(extra, words):
    with pytest.raises(CXDataError) as err:
        _schema(**extra)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_good_read_options_pass():
    s = _schema(read={"delimiter": ";", "encoding": "cp1250", "chunksize": 1000},
                filter={"wave": ["2026Q2", "2026Q3"]}, seed=3, confidence=0.9)
    assert s.read["encoding"] == "cp1250" and s.seed == 3 and s.confidence == 0.9


def test_a_yaml_list_as_the_whole_config(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("- outcome: ltr\n- drivers: [a, b]\n")
    with pytest.raises(CXDataError, match=r"must be a mapping.*got a list.*leading '- '"):
        sc.load_schema(path)


def test_non_utf8_bytes_are_named(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_bytes("title: Łódź\n".encode("cp1250") + b"outcome: ltr\n")
    with pytest.raises(CXDataError, match=r"not UTF-8.*byte 0xa3 at line 1, column 8.*UTF-8"):
        sc.load_schema(path)


# ------------------------------------------------------------ defect 17: billion laughs

def _laughs(key: str) -> str:
    """Nine nested anchors, all under ``key``: the last one stands for 9^9 = 387 million items."""
    items, prev = [], None
    for c in "abcdefghi":
        inner = ", ".join([f"*{prev}"] * 9 if prev else ["lol"] * 9)
        items.append(f"  - &{c} [{inner}]")
        prev = c
    return f"{key}:\n" + "\n".join(items) + "\n"


@pytest.mark.parametrize("key", ["title", "segments"])
def test_billion_laughs_is_refused_before_it_is_built(tmp_path, key):
    """9^9 values from a few hundred bytes: refused on the node graph (counted with
    memoisation), so this returns at once instead of exhausting memory."""
    text = _laughs(key)
    path = tmp_path / "laughs.yaml"
    path.write_text(text)
    assert len(text) < 600
    with pytest.raises(CXDataError, match=r"aliases.*expand to more than 10,000 values"):
        sc.load_schema(path)



@pytest.mark.parametrize("reader, key", [
    (lambda path: cx.company.load_config(path), "tables"),
    (lambda path: cx.text.load_codeframe(path), "themes"),
])
def test_company_config_and_codeframe_share_the_safe_reader(tmp_path, reader, key):
    """The company configuration and the codeframe go through the same reader as the study
    (cxlab.config.read_yaml): billion laughs, recursive aliases and non-UTF-8 bytes refused."""
    path = tmp_path / "laughs.yaml"
    path.write_text(_laughs(key))
    with pytest.raises(CXDataError, match=r"aliases.*expand to more than 10,000 values"):
        reader(path)
    path.write_text(f"{key}: &t [*t]\n")
    with pytest.raises(CXDataError, match="recursive"):
        reader(path)
    path.write_bytes(f"{key}:\n  x: Łódź\n".encode("cp1250"))
    with pytest.raises(CXDataError, match=r"laughs.yaml is not UTF-8.*line 2"):
        reader(path)

def test_small_aliases_stay_allowed(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("outcome: {column: ltr, scale: [0, 10]}\n"
                    "drivers: {a: {scale: &s [1, 5]}, b: {scale: *s}}\ndata: s.csv\n")
    s = sc.load_schema(path)
    assert [d.scale for d in s.drivers] == [(1.0, 5.0), (1.0, 5.0)]


def test_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("title: &t [*t]\n")
    with pytest.raises(CXDataError, match="recursive"):
        sc.load_schema(path)


# --------------------------------------------------- defect 20: booleans and non-strings

@pytest.mark.parametrize("extra, words", [
    ({"min_segment": True}, ["min_segment", "boolean", "min_segment: 30"]),
    ({"min_base": False}, ["min_base", "boolean"]),
    ({"bootstrap": True}, ["bootstrap", "boolean"]),
    ({"title": ["a", "b"]}, ["title", "list", "one string"]),
    ({"title": 2026}, ["title", "int 2026", "quote it"]),
    ({"straightliners": True}, ["straightliners", "bool"]),
    ({"segments": [["region"]]}, ["segments", "one column name"]),
    ({"weight": {"w": 1}}, ["weight", "one column name"]),
])
def test_booleans_and_non_strings_are_refused(extra, words):
    with pytest.raises(CXDataError) as err:
        _schema(**extra)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


# ----------------------------------------------------- defect 19: column typos, float ids

def _study_files(tmp_path, ids=None):
    rng = np.random.default_rng(0)
    n = 60
    df = pd.DataFrame({"response_id": ids if ids is not None else [f"R{i}" for i in range(n)],
                       "region": rng.choice(["North", "South"], n),
                       "ltr": rng.integers(0, 11, n), "a": rng.integers(1, 6, n),
                       "b": rng.integers(1, 6, n), "unused_col": 1})
    path = tmp_path / "survey.csv"
    df.to_csv(path, index=False)
    return path


def test_segment_typo_gets_a_suggestion_from_every_file_column(tmp_path):
    """`segments: [regoin]`: the reader reads only the configured columns, so 'region' is not
    among the columns read; the suggestion comes from the file's own header."""
    path = _study_files(tmp_path)
    schema = sc.StudySchema.from_dict({**BASE, "data": str(path), "segments": ["regoin"]})
    data, _ = cx.study.load_data(schema)
    assert "region" not in data.columns           # not read: the hint must come from the file
    report = cx.study.validate(schema, data)
    msg = " ".join(i.message for i in report.errors)
    assert "'regoin'" in msg and "did you mean 'region'" in msg and "unused_col" in msg
    report = cx.study.validate_file(schema)
    assert "did you mean 'region'" in " ".join(i.message for i in report.errors)


def test_float_ids_beyond_2_53_are_an_error(tmp_path):
    ids = [float(10 ** 21 + i) for i in range(60)]       # distinct ids, equal as floats
    frame = pd.DataFrame({"response_id": ids, "ltr": 5, "a": 3, "b": 4})
    schema = sc.StudySchema.from_dict({**BASE, "id": "response_id"})
    report = cx.study.validate(schema, frame)
    err = [i for i in report.errors if i.check == "ids read as numbers"]
    assert err and "2^53" in err[0].message and "text_columns: [response_id]" in err[0].message


# ------------------------------------------------------------------ defect 23: numbers

@pytest.mark.parametrize("w", [1e155, 1e200, 1e-160, 1e-300])
def test_nps_with_extreme_constant_weights_equals_unweighted(w):
    """Constant weights carry no information: the result must be the unweighted one (the
    weights are normalised to mean 1 first), with no RuntimeWarning."""
    rng = np.random.default_rng(3)
    x = pd.Series(rng.integers(0, 11, 500))
    plain = cx.metrics.nps(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        res = cx.metrics.nps(x, weights=np.full(len(x), w))
    assert res.value == pytest.approx(plain.value, abs=1e-9)
    assert res.ci_low == pytest.approx(plain.ci_low, abs=1e-6)
    assert res.ci_high == pytest.approx(plain.ci_high, abs=1e-6)


def test_fit_sbg_when_everyone_churns_at_the_first_renewal_raises():
    """[1000, 0, 0, 0]: the likelihood is maximised at the edge (α/(α+β) → 1, no heterogeneity
    identified); it returned α = 4e5, β = 4e-6 silently. Now it raises like the no-churn case."""
    with pytest.raises(cx.value.ConvergenceError, match=r"first renewal.*degenerate"):
        cx.value.fit_sbg([1000, 0, 0, 0])
    with pytest.raises(cx.value.ConvergenceError, match="No customer churned"):
        cx.value.fit_sbg([1000, 1000, 1000, 1000])
    # Fader & Hardie (2007) "regular" cohort: no warning, their published α = 0.704, β = 1.182
    with warnings.catch_warnings():
        warnings.simplefilter("error", CXWarning)
        fit = cx.value.fit_sbg([1000, 631, 468, 382, 326, 289, 262, 241])
    assert fit.alpha == pytest.approx(0.704, abs=0.002) and fit.beta == pytest.approx(1.182, abs=0.002)


def test_bootstrap_zero_is_refused_for_a_published_batch(tmp_path):
    """`--param bootstrap=0` printed "nan" 35 times a page; a batch now refuses it before any
    kernel starts (0 stays allowed for previews through prepare())."""
    from cxlab.report import parameters as rpar
    from cxlab.report import runner
    for b in (0, 5):
        with pytest.raises(CXDataError, match=r"bootstrap=\d+ would publish.*at least 20"):
            runner.run("quarterly", params={"bootstrap": b}, out=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())
    rpar.check_publishable({"bootstrap": 20})
    assert rpar.validate_parameters("quarterly", {"bootstrap": 0})["bootstrap"] == 0
