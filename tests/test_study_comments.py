"""The driver study with a comment column: comments coded into theme columns (themes usable
as drivers), each theme's prevalence and adjusted effect on the outcome, checked against the
simulator's true theme effects (datasets/kestrel/comments_truth.json)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import cxlab as cx
from cxlab.checks import CXDataError

THEMES = ["network_outage", "slow_speed", "billing_error", "price", "support_unresolved",
          "support_slow", "app_selfservice", "praise"]


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """The bundled survey with its comments in one export, as an analyst would have it."""
    k = cx.datasets.load("kestrel")
    frame = k.survey.merge(k.comments[["response_id", "language", "comment"]], on="response_id")
    path = tmp_path_factory.mktemp("study") / "survey_comments.csv"
    frame.to_csv(path, index=False)
    return path


def _config(export, **kw):
    return {"data": str(export), "id": "response_id",
            "outcome": {"column": "ltr", "scale": [0, 10]},
            "drivers": {"network_reliability": [1, 10], "billing_accuracy": [1, 10],
                        "price_value": [1, 10], "network_outage": [0, 1],
                        "billing_error": [0, 1]},
            "comment": "comment", "comment_language": "language", "bootstrap": 20, **kw}


@pytest.fixture(scope="module")
def study(export):
    return cx.study.run(_config(export))


def test_theme_effects_recover_the_truth(study):
    """The truth is the population coefficient of the TRUE themes (mean of 60 simulated
    companies); the study codes themes with the codeframe (precision/recall ~0.9), which
    attenuates effects a little. Tolerance: every sign right, and at least 6 of the 8 95%
    intervals cover the truth (7.6 expected without coding error)."""
    truth = json.loads((cx.datasets.path("kestrel") / "comments_truth.json").read_text())
    true = {t: v["value"] for t, v in truth["theme_effects"]["ltr_nps_points"].items()}
    table = study.themes
    assert list(table.index) == THEMES
    assert table.attrs["unit"] == "NPS points"
    assert (np.sign(table["effect"]) == np.sign([true[t] for t in THEMES])).all()
    covered = [(lo <= true[t] <= hi) for t, lo, hi in
               zip(THEMES, table["effect_ci_low"], table["effect_ci_high"])]
    assert sum(covered) >= 6, dict(zip(THEMES, covered))
    written = study.prepared.data["comment"].fillna("").str.strip().str.len() > 0
    assert table.attrs["n_comments"] == int(written.sum())


def test_themes_are_drivers_and_columns(study):
    imp = study.summary()
    assert {"network_outage", "billing_error"} <= set(imp.index)
    data = study.prepared.data
    assert set(THEMES) <= set(data.columns)
    assert set(np.unique(data[THEMES].to_numpy())) <= {0, 1}
    empty = data["comment"].fillna("").str.strip() == ""
    assert (data.loc[empty, THEMES] == 0).all().all()


def test_rating_outcome_effect_in_top_box_points(export):
    cfg = _config(export, outcome={"column": "osat", "scale": [1, 5]},
                  drivers={"network_reliability": [1, 10], "price_value": [1, 10]})
    res = cx.study.run(cfg)
    assert res.themes.attrs["unit"] == "percentage points"
    assert res.themes.loc["praise", "effect"] > 0 > res.themes.loc["network_outage", "effect"]


def test_small_themes_have_no_effect(export):
    cfg = _config(export, filter={"wave": ["2026Q3"]}, min_base=60)
    res = cx.study.run(cfg)
    small = res.themes["n_with"] < 60
    assert small.any() and res.themes.loc[small, "effect"].isna().all()
    assert res.themes.loc[~small, "effect"].notna().all()


def test_bad_comment_configuration_is_named(export):
    with pytest.raises(CXDataError, match="coment"):
        cx.study.load_schema({**_config(export), "coment": "comment"})
    with pytest.raises(CXDataError, match="why"):
        cx.study.run(_config(export, comment="why"))
    with pytest.raises(CXDataError, match="codeframe"):
        cx.study.run(_config(export, codeframe="no_such_frame.yaml"))


def test_no_comment_column_means_no_themes(export):
    cfg = _config(export, drivers={"network_reliability": [1, 10]})
    del cfg["comment"], cfg["comment_language"]
    assert cx.study.run(cfg).themes is None
