"""Hostile input: malformed files and frames thrown at the readers, the validator and the driver
engine. The contract: a correct answer or a clear CXDataError naming the problem — never an
unrelated exception (KeyError, LinAlgError, ZeroDivisionError, ...) and never a silent NaN.

Runtime is kept under a minute with small ``max_examples`` (set per test below)."""

import math
import warnings

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import cxlab as cx
from cxlab import study as st
from cxlab.checks import CXDataError

FAST = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")

# ------------------------------------------------------------------------------------- readers

cell = hs.one_of(
    hs.integers(-1000, 1000).map(str), hs.floats(allow_nan=True, allow_infinity=True).map(str),
    hs.sampled_from(["", "N/A", "Don't know", "99", "3,5", "1.000,5", '"', '""', "a;b", "é",
                     "\u2013", "\x00", "{\"ImportId\":\"x\"}", "  7 ", "-", "nan", "TRUE"]),
    hs.text(max_size=8))
line = hs.lists(cell, min_size=1, max_size=6)
delim = hs.sampled_from([",", ";", "\t", "|"])


@FAST
@given(rows=hs.lists(line, min_size=0, max_size=8), sep=delim,
       enc=hs.sampled_from(["utf-8", "cp1252", "utf-16", "latin-1"]),
       eol=hs.sampled_from(["\n", "\r\n", "\r"]), ext=hs.sampled_from([".csv", ".txt", ".tsv"]))
def test_reader_on_random_delimited_text(tmp_path, rows, sep, enc, eol, ext):
    text = eol.join(sep.join(r) for r in rows)
    path = tmp_path / f"random{ext}"
    try:
        path.write_bytes(text.encode(enc, errors="replace"))
    except UnicodeError:
        return
    try:
        df = cx.io.read_survey(path)
    except CXDataError as err:
        assert str(err).strip()
        return
    assert isinstance(df, pd.DataFrame) and len(df) > 0
    rep = cx.io.read_report(df)
    assert (rep["n"] >= 0).all()


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=hs.binary(max_size=600),
       ext=hs.sampled_from([".csv", ".sav", ".xlsx", ".parquet", ".dta", ".por", ".csv.gz",
                            ".zsav", ".zip"]))
def test_reader_on_random_bytes(tmp_path, blob, ext):
    path = tmp_path / f"blob{ext}"
    path.write_bytes(blob)
    try:
        df = cx.io.read_survey(path)
    except CXDataError as err:
        assert str(err).strip()
        return
    assert isinstance(df, pd.DataFrame)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=hs.floats(0.05, 0.95))
def test_reader_on_truncated_binary_exports(tmp_path, cut):
    df = pd.DataFrame({"q": np.arange(200, dtype=float) % 5 + 1, "g": ["a", "b"] * 100})
    good = tmp_path / "good.sav"
    pyreadstat.write_sav(df, str(good), variable_value_labels={"q": {1: "low", 99: "DK"}})
    df.to_parquet(tmp_path / "good.parquet")
    df.to_excel(tmp_path / "good.xlsx", index=False)
    for name in ("good.sav", "good.parquet", "good.xlsx"):
        raw = (tmp_path / name).read_bytes()
        bad = tmp_path / ("cut_" + name)
        bad.write_bytes(raw[: int(len(raw) * cut)])
        try:
            out = cx.io.read_survey(bad)
        except CXDataError:
            continue
        assert isinstance(out, pd.DataFrame)


# ------------------------------------------------------------------------------------- validator

value = hs.one_of(hs.none(), hs.integers(-5, 15), hs.floats(allow_nan=True, allow_infinity=True),
                  hs.sampled_from([math.inf, -math.inf, np.nan, 1e308, -0.0]),
                  hs.sampled_from(["", "x", "Don't know", "7", "3,5", "yes", "no"]), hs.booleans())
DR = ["d1", "d2", "d3"]


@hs.composite
def hostile_frame(draw, kind="nps"):
    """A plausible survey (30–70 rows) with a few hostile cells planted, or a fully random one."""
    if draw(hs.integers(0, 9)) == 0:                # now and then: anything goes
        n = draw(hs.integers(1, 40))
        col = lambda: draw(hs.lists(value, min_size=n, max_size=n))
        return pd.DataFrame({"y": col(), **{d: col() for d in DR}, "id": col(), "seg": col(),
                             "w": col()})
    n = draw(hs.integers(30, 70))
    rng = np.random.default_rng(draw(hs.integers(0, 2**32 - 1)))
    X = rng.integers(1, 6, size=(n, len(DR))).astype(float)
    y = np.clip(np.round(X.mean(axis=1) * 2 + rng.normal(0, 1.5, n)), 0, 10)
    if kind == "binary":
        y = (y >= 7).astype(float)
    elif kind == "rating":
        y = np.clip(np.round(y / 2), 1, 5)
    frame = pd.DataFrame({"y": y, **{d: X[:, j] for j, d in enumerate(DR)},
                          "id": np.arange(n), "seg": rng.choice(["n", "s"], n),
                          "w": rng.uniform(0.2, 2, n)}).astype(object)
    for _ in range(draw(hs.integers(0, 4))):        # plant hostile cells
        r = draw(hs.integers(0, n - 1))
        c = draw(hs.sampled_from(list(frame.columns)))
        frame.iloc[r, frame.columns.get_loc(c)] = draw(value)
    if draw(hs.booleans()):                         # let pandas infer types as a reader would
        frame = frame.infer_objects()
    return frame


def _schema(kind, weight, scaled=True):
    outcome = ({"column": "y", "scale": [0, 10]} if kind == "nps" else
               {"column": "y", "kind": "binary"} if kind == "binary" else
               {"column": "y", "scale": [1, 5]})
    drivers = {"scale": [1, 5], "columns": DR} if scaled else DR
    return st.load_schema({"outcome": outcome, "drivers": drivers,
                           "id": "id", "segments": ["seg"], "weight": "w" if weight else None,
                           "min_segment": 3, "analysis": {"bootstrap": 0}})


@settings(max_examples=250, deadline=None, derandomize=True)
@given(data=hs.data(), kind=hs.sampled_from(["nps", "rating", "binary"]),
       weight=hs.booleans(), scaled=hs.booleans())
def test_validator_always_reports_and_prepare_agrees(data, kind, weight, scaled):
    df = data.draw(hostile_frame(kind))
    sch = _schema(kind, weight, scaled)
    rep = st.validate(sch, df)                      # never raises on data content
    assert isinstance(rep.to_text(), str) and rep.n_rows == len(df)
    assert 0 <= rep.usable_rows <= len(df)
    if not rep.ok:
        with pytest.raises(CXDataError):
            st.prepare(sch, df, report=rep)
        return
    sd = st.prepare(sch, df, report=rep)
    assert len(sd.complete) == rep.usable_rows or sch.straightliners == "drop"
    assert sd.complete[[sch.outcome.column, *DR]].notna().all().all()
    assert np.isfinite(sd.complete[[sch.outcome.column, *DR]].to_numpy(float)).all()
    out = st.outcome_summary(sd)
    assert out["n"].gt(0).all() and np.isfinite(out["value"]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = cx.drivers.relative_importance(sd.complete, "y", DR, method="first",
                                                 weights=sch.weight)
        except CXDataError:
            return
    assert np.isfinite(res["importance"].to_numpy(float)).all()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(df=hostile_frame())
def test_validate_file_on_hostile_csv(tmp_path_factory, df):
    path = tmp_path_factory.mktemp("h") / "h.csv"
    df.to_csv(path, index=False)
    sch = _schema("nps", False)
    try:
        rep = st.validate_file(sch, path, chunksize=7)
    except CXDataError as err:                      # e.g. the file holds no data rows
        assert str(err)
        return
    read = rep.read_report
    skipped = int(read.loc[read["action"].str.startswith("extra header"), "n"].sum())
    assert rep.n_rows == len(df) - skipped          # rows taken as header rows are counted


# ------------------------------------------------------------------------------------- driver engine

@hs.composite
def numeric_frame(draw):
    n = draw(hs.integers(0, 30))
    p = draw(hs.integers(1, 4))
    elems = hs.one_of(hs.integers(1, 5).map(float), hs.just(np.nan), hs.just(3.0),
                      hs.floats(-1e6, 1e6, allow_nan=False))
    data = {f"x{j}": draw(hs.lists(elems, min_size=n, max_size=n)) for j in range(p)}
    if draw(hs.booleans()):
        data["x0"] = [3.0] * n                      # a constant driver
    if p > 1 and draw(hs.booleans()):
        data["x1"] = list(data["x0"])               # perfectly collinear
    ys = hs.one_of(hs.sampled_from([0.0, 1.0]), hs.floats(0, 10), hs.just(np.nan))
    data["y"] = draw(hs.lists(ys, min_size=n, max_size=n))
    data["w"] = draw(hs.lists(hs.one_of(hs.floats(0, 3), hs.just(-1.0), hs.just(np.nan)),
                              min_size=n, max_size=n))
    return pd.DataFrame(data), [f"x{j}" for j in range(p)]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(fd=numeric_frame(), method=hs.sampled_from(["lmg", "relative_weights", "pratt", "first",
                                                   "last", "betasq"]),
       family=hs.sampled_from(["auto", "linear"]), weighted=hs.booleans(),
       grouped=hs.booleans(), boot=hs.booleans())
def test_driver_engine_answers_or_says_why(fd, method, family, weighted, grouped, boot):
    df, drivers = fd
    groups = {"G": drivers[:2]} if grouped and len(drivers) > 2 and method in ("lmg", "first",
                                                                              "last") else None
    kw = {"method": method, "family": family, "weights": "w" if weighted else None, "groups": groups}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if boot:
                res = cx.drivers.analyze(df, "y", drivers, bootstrap=8, progress=False, **kw)
            else:
                res = cx.drivers.relative_importance(df, "y", drivers, **kw)
        except CXDataError as err:
            assert str(err).strip()
            return
    table = res.importance if boot else res
    assert np.isfinite(table["importance"].to_numpy(float)).all(), table
    if boot:
        assert np.isfinite(table[["ci_low", "ci_high"]].to_numpy(float)).all(), table
    else:
        assert np.isfinite(res.attrs["r2"])
