"""cx.plots.metric_intervals, the chart of metrics with their intervals used by the course."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import cxlab as cx  # noqa: E402


def test_points_whiskers_and_suppressed_rows():
    table = pd.DataFrame({"region": ["North", "South", "East"], "value": [20.0, np.nan, -5.0],
                          "ci_low": [15.0, np.nan, -12.0], "ci_high": [26.0, np.nan, 1.0],
                          "suppressed": [False, True, False]})
    ax = cx.plots.metric_intervals(table, x="region", ylabel="NPS", title="NPS by region",
                                   reference=0)
    line = ax.lines[0]  # the points of the errorbar container
    np.testing.assert_allclose(line.get_xdata(), [0, 2])
    np.testing.assert_allclose(line.get_ydata(), [20.0, -5.0])
    # whisker ends drawn at the interval bounds (low and high of each shown row)
    segments = ax.collections[0].get_segments()
    ends = sorted((float(s[0][1]), float(s[1][1])) for s in segments)
    assert ends == [(-12.0, 1.0), (15.0, 26.0)]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["North", "South", "East"]
    assert any(t.get_text() == "n < min base" for t in ax.texts)
    assert ax.get_ylabel() == "NPS" and ax.get_title() == "NPS by region"
    plt.close("all")


def test_works_on_a_real_metrics_table():
    data = pd.DataFrame({"wave": ["A"] * 40 + ["B"] * 10, "ltr": [10, 9, 8, 3] * 10 + [9] * 10})
    table = cx.metrics.table(data, "ltr", by="wave")
    ax = cx.plots.metric_intervals(table, x="wave")
    assert len(ax.lines[0].get_xdata()) == 1  # wave B (n = 10) suppressed
    assert ax.get_xlabel() == "wave" and ax.get_ylabel() == "value"
    plt.close("all")
