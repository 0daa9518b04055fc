"""cx.datasets: each loader returns what its SOURCE.md states (rows, columns, key rates), the
copied files are byte-identical to the sources (sha256 stated in SOURCE.md / COPIED.md), and
nothing that may not be shipped is in datasets/."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cxlab as cx
from cxlab.checks import CXDataError

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"
SHARED = ROOT.parent / "shared" / "data"

REAL = ["iranian_churn", "ibm_telco_churn", "online_retail", "cdnow", "cdnow_summary"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_names_and_unknown_name():
    assert cx.datasets.names() == ["kestrel"] + REAL
    with pytest.raises(CXDataError) as err:
        cx.datasets.load("kestral")
    for name in cx.datasets.names():
        assert name in str(err.value)


def test_describe_gives_codebook_and_source():
    for name in cx.datasets.names():
        text = cx.datasets.describe(name)
        assert text.startswith(cx.datasets._LOADERS[name].__doc__.strip().splitlines()[0])
        assert "licen" in text.lower() or name == "kestrel"
        assert cx.datasets.source(name) in text


def test_iranian_churn_matches_source_md():
    src = cx.datasets.source("iranian_churn")
    assert "3,150 rows × 14 columns" in src and "(15.7%)" in src
    tidy = cx.datasets.load("iranian_churn")
    raw = cx.datasets.load("iranian_churn", tidy=False)
    assert tidy.shape == raw.shape == (3150, 14)
    assert "Call  Failure" in raw.columns and "Subscription  Length" in raw.columns
    assert list(tidy.columns) == [re.sub(r"\s+", "_", c.strip().lower()) for c in raw.columns]
    assert round(100 * tidy.churn.mean(), 1) == 15.7
    assert round(100 * tidy.complains.mean(), 1) == 7.7
    by = tidy.groupby("complains").churn.mean()
    assert round(by[1], 2) == 0.83 and abs(by[0] - 0.10) < 0.01        # "83% vs 10%"
    assert tidy.subscription_length.between(3, 47).all()
    assert tidy.customer_value.between(0, 2165.5).all() and tidy.customer_value.max() > 2165
    assert tidy.duplicated().sum() == 300


def test_ibm_telco_matches_source_md():
    src = cx.datasets.source("ibm_telco_churn")
    assert "7,043 rows × 21 columns" in src and "26.5% Yes" in src
    d = cx.datasets.load("ibm_telco_churn")
    assert d.shape == (7043, 21)
    assert round(100 * (d.Churn == "Yes").mean(), 1) == 26.5
    assert d.TotalCharges.dtype == float
    blank = d.TotalCharges.isna()
    assert blank.sum() == 11 and (d.tenure[blank] == 0).all()
    assert d.MonthlyCharges.min() == 18.25 and d.MonthlyCharges.max() == 118.75
    assert d.tenure.between(0, 72).all()
    # TotalCharges ~ tenure x MonthlyCharges (independent sanity check of the parse)
    ratio = d.TotalCharges / (d.tenure * d.MonthlyCharges)
    assert 0.9 < ratio.median() < 1.1
    lic = (DATASETS / "ibm_telco_churn" / "LICENSE-Apache-2.0").read_text()
    assert "Apache License" in lic and "Version 2.0, January 2004" in lic
    assert "END OF TERMS AND CONDITIONS" in lic


def test_online_retail_sample_matches_source_md():
    src = cx.datasets.source("online_retail")
    assert "28,303 × 8" in src and "784 rows" in src
    d = cx.datasets.load("online_retail")
    assert d.shape == (28303, 8)
    assert d.CustomerID.nunique() == 300 and d.CustomerID.notna().all()
    cancel = d.InvoiceNo.str.startswith("C")
    assert cancel.sum() == 784 and (d.Quantity[cancel] < 0).all()
    assert pd.api.types.is_datetime64_any_dtype(d.InvoiceDate)
    assert d.InvoiceDate.min() >= pd.Timestamp("2010-12-01")
    assert d.InvoiceDate.max() <= pd.Timestamp("2011-12-10")


def test_cdnow_sample_matches_source_md():
    src = cx.datasets.source("cdnow")
    assert "6,919 transactions" in src and "2,357 × 5" in src
    tx = cx.datasets.load("cdnow")
    assert tx.shape == (6919, 4) and list(tx.columns) == ["customer_id", "date", "cds", "dollars"]
    assert tx.customer_id.nunique() == 2357
    assert tx.customer_id.min() == 1 and tx.customer_id.max() == 2357
    assert tx.date.min() == pd.Timestamp("1997-01-01")
    assert tx.date.max() <= pd.Timestamp("1998-06-30")
    summary = cx.datasets.load("cdnow_summary")
    assert summary.shape == (2357, 5) and list(summary.columns) == ["ID", "x", "t_x", "T", "zbar"]
    assert (summary.x > 0).sum() == 946          # the 946 repeat buyers of the Gamma-Gamma fit
    # Recompute the calibration summary from the transactions (first 39 weeks to 1997-09-30):
    # repeat transactions on distinct days, as in Fader, Hardie & Lee (2005).
    cal = tx[tx.date <= pd.Timestamp("1997-09-30")]
    days = cal.groupby(["customer_id", "date"], as_index=False).dollars.sum()
    first = days.groupby("customer_id").date.min()
    x = days.groupby("customer_id").size() - 1
    assert (x.reindex(summary.ID).to_numpy() == summary.x.to_numpy()).all()
    last = days.groupby("customer_id").date.max()
    t_x = ((last - first).dt.days / 7).reindex(summary.ID).to_numpy()
    assert np.allclose(t_x, summary.t_x, atol=0.01)
    end = pd.Timestamp("1997-09-30")
    T = ((end - first).dt.days / 7).reindex(summary.ID).to_numpy()
    assert np.abs(T - summary["T"]).max() <= 1 / 7 + 0.01   # end-of-day convention


@pytest.mark.parametrize("name", ["iranian_churn", "ibm_telco_churn", "online_retail", "cdnow"])
def test_copied_files_match_stated_sha256(name):
    folder = DATASETS / name
    stated = cx.datasets._sha256_in_source(name)
    copied = {m[0]: m[1] for m in re.findall(r"`([^`]+)`: `([0-9a-f]{64})`",
                                              (folder / "COPIED.md").read_text())}
    assert copied, "COPIED.md lists the copied files with sha256"
    for file, digest in {**copied, **stated}.items():
        if (folder / file).exists():
            assert sha(folder / file) == digest, file
    if name in ("iranian_churn", "ibm_telco_churn"):     # SOURCE.md states a full digest
        assert len(stated) == 1 and (folder / next(iter(stated))).exists()
    if (SHARED / name / "SOURCE.md").exists():           # verbatim copies of the sources
        assert sha(folder / "SOURCE.md") == sha(SHARED / name / "SOURCE.md")
        for file in copied:
            if (SHARED / name / file).exists():
                assert sha(folder / file) == sha(SHARED / name / file), file


def test_nothing_unshippable_is_bundled():
    files = [p.relative_to(DATASETS).as_posix().lower() for p in DATASETS.rglob("*") if p.is_file()]
    for bad in ("airline", "ecsi", "satisfaction.csv", "plspm", "cdnow_master", "full.csv"):
        assert not any(bad in f for f in files), bad
    for folder in DATASETS.iterdir():
        if folder.is_dir() and folder.name != "kestrel":
            assert (folder / "SOURCE.md").exists() and (folder / "COPIED.md").exists()


def test_kestrel_loads_as_company():
    company = cx.datasets.load("kestrel")
    assert isinstance(company, cx.simulate.Company)
    assert len(company.customers) == 20_000
    assert company.truth["name"] == "Kestrel Connect"


def test_missing_folder_gives_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("CXLAB_DATASETS", str(tmp_path))
    with pytest.raises(CXDataError, match="CXLAB_DATASETS"):
        cx.datasets.load("iranian_churn")
