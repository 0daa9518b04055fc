"""cx.io.read_survey: format detection and counted recodes, checked against files whose content
is known by construction (the expected values are written out by hand in each test)."""

import gzip
import math

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import cxlab as cx
from cxlab.checks import CXDataError, CXWarning

QUALTRICS = (
    'ResponseId,Q1,Q2_1,Q2_2,Region\n'
    '"Response ID","How likely are you to recommend us?\nPlease answer 0-10",'
    '"Rate: billing","Rate: network","Region"\n'
    '"{""ImportId"":""_recordId""}","{""ImportId"":""QID1""}","{""ImportId"":""QID2_1""}",'
    '"{""ImportId"":""QID2_2""}","{""ImportId"":""QID3""}"\n'
    'R_1,9,4,5,North\n'
    'R_2,10,Don\'t know,3,South\n'
    'R_3,N/A,2,1,North\n'
    'R_4,7,5,99,South\n'
)


def report_n(df, column, action_part, value=None):
    rep = cx.io.read_report(df)
    sel = (rep["column"] == column) & rep["action"].str.contains(action_part)
    if value is not None:
        sel &= rep["value"].astype(str) == str(value)
    return int(rep.loc[sel, "n"].sum())


def test_qualtrics_export_header_rows_labels_and_codes(tmp_path):
    path = tmp_path / "qualtrics.csv"
    path.write_text(QUALTRICS, encoding="utf-8")
    df = cx.io.read_survey(path, missing_codes={"Q2_2": [99]})
    assert list(df.columns) == ["ResponseId", "Q1", "Q2_1", "Q2_2", "Region"]
    assert len(df) == 4                                   # the two extra header rows are gone
    np.testing.assert_array_equal(df["Q1"].to_numpy(), [9, 10, np.nan, 7])
    np.testing.assert_array_equal(df["Q2_1"].to_numpy(), [4, np.nan, 2, 5])
    np.testing.assert_array_equal(df["Q2_2"].to_numpy(), [5, 3, 1, np.nan])
    assert cx.io.variable_labels(df)["Q1"].startswith("How likely are you to recommend us?")
    assert cx.io.variable_labels(df)["Q2_1"] == "Rate: billing"
    assert report_n(df, "Q1", "answer code", "N/A") == 1
    assert report_n(df, "Q2_1", "answer code", "Don't know") == 1
    assert report_n(df, "Q2_2", "missing code", 99) == 1
    assert report_n(df, "(file)", "extra header rows") == 2


def test_semicolon_cp1252_decimal_comma(tmp_path):
    text = ("id;région;score;poids\n1;Zürich;7;1,25\n2;Genève;9;0,5\n3;Köln;10;2\n"
            "4;Liège;8;1.000,5\n")
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode("cp1252"))
    with pytest.warns(CXWarning, match="encoding='cp1250'"):   # four words: a close call, said
        df = cx.io.read_survey(path)
    info = cx.io.survey_info(df)
    assert info["delimiter"] == ";" and info["decimal"] == "," and info["encoding"] == "cp1252"
    assert list(df["région"]) == ["Zürich", "Genève", "Köln", "Liège"]
    np.testing.assert_allclose(df["poids"], [1.25, 0.5, 2.0, 1000.5])
    np.testing.assert_array_equal(df["score"], [7, 9, 10, 8])


def test_comma_delimited_with_quoted_decimal_commas(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('id,weight,q\n1,"1,5",3\n2,"0,25",4\n3,2,5\n', encoding="utf-8")
    df = cx.io.read_survey(path)
    np.testing.assert_allclose(df["weight"], [1.5, 0.25, 2.0])
    assert report_n(df, "weight", "decimal comma") == 2


@pytest.mark.parametrize("encoding,bom", [("utf-8-sig", True), ("utf-16", True)])
def test_bom_encodings_and_tab_delimiter(tmp_path, encoding, bom):
    path = tmp_path / "unicode.txt"
    path.write_bytes("name\tq1\nAnaïs\t5\nŁukasz\t4\n".encode(encoding))
    df = cx.io.read_survey(path)
    assert list(df.columns) == ["name", "q1"]
    assert list(df["name"]) == ["Anaïs", "Łukasz"]
    assert cx.io.survey_info(df)["delimiter"] == "\t"


def test_utf8_detected_even_when_the_only_accent_is_late_in_a_big_file(tmp_path):
    rows = "".join(f"{i},5\n" for i in range(300_000)) + "300000,é\n"
    path = tmp_path / "late.csv"
    path.write_bytes(("id,q\n" + rows).encode("utf-8"))
    assert cx.io.detect_encoding(path) == "utf-8"
    path.write_bytes(("id,q\n" + rows).encode("cp1252"))
    assert cx.io.detect_encoding(path) == "cp1252"


def test_text_that_is_not_a_code_keeps_the_column_as_text(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("id,q,region\n1,5,N/A\n2,seven,North\n3,N/A,South\n", encoding="utf-8")
    df = cx.io.read_survey(path)
    assert not pd.api.types.is_numeric_dtype(df["q"])       # the validator will name 'seven'
    assert list(df["q"].fillna("<NA>")) == ["5", "seven", "<NA>"]   # the code still goes, counted
    assert report_n(df, "q", "answer code", "N/A") == 1
    assert list(df["region"]) == ["N/A", "North", "South"]  # a text column is left as it is


def test_missing_codes_list_applies_to_numeric_columns_and_counts(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("id,a,b,c\n1,99,5,x\n2,3,98,y\n3,99,-1,z\n", encoding="utf-8")
    df = cx.io.read_survey(path, missing_codes=[98, 99, -1])
    assert df["a"].isna().sum() == 2 and df["b"].isna().sum() == 2
    assert report_n(df, "a", "missing code", 99) == 2
    assert report_n(df, "b", "missing code", 98) == 1
    assert report_n(df, "b", "missing code", -1) == 1
    assert list(df["c"]) == ["x", "y", "z"]
    with pytest.raises(CXDataError, match="nope"):
        cx.io.read_survey(path, missing_codes={"nope": [99]})


def test_recode_missing_counts_text_codes_too():
    df = pd.DataFrame({"q": ["1", "DK", "DK", "3"], "r": [1.0, 9.0, 9.0, 9.0]})
    out, rep = cx.io.recode_missing(df, {"q": ["DK"], "r": [9]})
    assert out["q"].isna().sum() == 2 and out["r"].isna().sum() == 3
    assert rep.set_index("column")["n"].to_dict() == {"q": 2, "r": 3}
    assert df["r"].isna().sum() == 0                            # input untouched


def test_sav_value_labels_variable_labels_and_user_missing(tmp_path):
    data = pd.DataFrame({"id": [1.0, 2.0, 3.0, 4.0, 5.0],
                         "sat": [1.0, 5.0, 99.0, 4.0, 98.0],
                         "nps": [10.0, 0.0, 7.0, -1.0, 9.0],
                         "region": ["N", "S", "N", "E", "S"]})
    path = tmp_path / "survey.sav"
    pyreadstat.write_sav(
        data, str(path),
        column_labels={"sat": "Overall satisfaction", "nps": "Likelihood to recommend"},
        variable_value_labels={"sat": {1: "Very dissatisfied", 5: "Very satisfied",
                                       98: "Refused", 99: "Don't know"}},
        missing_ranges={"nps": [-1]})
    df = cx.io.read_survey(path)
    np.testing.assert_array_equal(df["sat"], [1, 5, np.nan, 4, np.nan])   # labelled non-answers
    np.testing.assert_array_equal(df["nps"], [10, 0, 7, np.nan, 9])        # SPSS user-missing
    assert cx.io.variable_labels(df) == {"sat": "Overall satisfaction",
                                         "nps": "Likelihood to recommend"}
    assert cx.io.value_labels(df)["sat"][5.0] == "Very satisfied"
    assert report_n(df, "sat", "labelled as non-answer") == 2
    assert report_n(df, "nps", "user-missing") == 1
    labelled = cx.io.apply_value_labels(df, ["sat"])
    assert list(labelled["sat"].astype(object).fillna("-")) == \
        ["Very dissatisfied", "Very satisfied", "-", "4.0", "-"]
    kept = cx.io.read_survey(path, label_missing=False)
    assert kept["sat"].tolist() == [1, 5, 99, 4, 98]


def test_sav_in_chunks_equals_whole(tmp_path):
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"q": rng.integers(1, 6, 1000).astype(float),
                         "g": rng.choice(["a", "b"], 1000)})
    path = tmp_path / "big.sav"
    pyreadstat.write_sav(data, str(path))
    whole = cx.io.read_survey(path)
    parts = list(cx.io.iter_survey(path, chunksize=300))
    assert [len(p) for p in parts] == [300, 300, 300, 100]
    joined = pd.concat(parts)
    assert joined.index.equals(pd.RangeIndex(1000))
    pd.testing.assert_frame_equal(joined, whole, check_dtype=False)


def test_stata_parquet_excel_round_trip(tmp_path):
    data = pd.DataFrame({"id": [1, 2, 3], "q": [4.0, 5.0, 2.0], "g": ["a", "b", "c"]})
    pyreadstat.write_dta(data, str(tmp_path / "s.dta"),
                         variable_value_labels={"q": {5: "top"}}, column_labels=["", "Q", ""])
    data.to_parquet(tmp_path / "s.parquet")
    data.to_excel(tmp_path / "s.xlsx", index=False)
    for name in ("s.dta", "s.parquet", "s.xlsx"):
        df = cx.io.read_survey(tmp_path / name)
        assert df["q"].tolist() == [4.0, 5.0, 2.0], name
        assert df["g"].tolist() == ["a", "b", "c"], name
    assert cx.io.value_labels(cx.io.read_survey(tmp_path / "s.dta"))["q"][5] == "top"


def test_excel_with_survey_platform_header_rows(tmp_path):
    rows = [["id", "q1", "q2"], ["Respondent", "Rate billing", "Rate network"],
            ['{"ImportId":"a"}', '{"ImportId":"b"}', '{"ImportId":"c"}'],
            [1, 4, "Don't know"], [2, 5, 3]]
    pd.DataFrame(rows).to_excel(tmp_path / "q.xlsx", index=False, header=False)
    df = cx.io.read_survey(tmp_path / "q.xlsx")
    assert df["q1"].tolist() == [4, 5]
    assert df["q2"].isna().tolist() == [True, False] and df["q2"].iloc[1] == 3
    assert cx.io.variable_labels(df)["q2"] == "Rate network"


def test_gzip_csv_and_chunks(tmp_path):
    path = tmp_path / "s.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("a;b\n" + "".join(f"{i};{i % 5},5\n" for i in range(25)))
    df = cx.io.read_survey(path)
    assert cx.io.survey_info(df)["decimal"] == ","
    assert math.isclose(df["b"].iloc[3], 3.5)
    chunks = list(cx.io.iter_survey(path, chunksize=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert chunks[2].index[0] == 20


def test_repeated_column_names_are_reported(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("q,q,r\n1,2,3\n", encoding="utf-8")
    with pytest.warns(CXWarning, match="repeated column names"):
        df = cx.io.read_survey(path)
    assert list(df.columns) == ["q", "q.1", "r"]


@pytest.mark.parametrize("content,name,match", [
    (None, "absent.csv", "not found"),
    (b"", "empty.csv", "empty"),
    (b"a,b\n", "header_only.csv", "no data rows"),
    (b"x", "data.foo", "Cannot tell the format"),
    (b"\x00\x01\x02garbage\x00" * 50, "binary.csv", "NUL bytes"),
    (b"not a spss file at all", "fake.sav", "Could not read fake.sav"),
    (b"PK\x03\x04 truncated zip", "fake.xlsx", "Could not read fake.xlsx"),
    (b"PAR1 not really", "fake.parquet", "Could not read fake.parquet"),
])
def test_unreadable_files_give_clear_errors(tmp_path, content, name, match):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CXDataError, match=match):
        cx.io.read_survey(path)


def test_ragged_csv_names_the_line(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4,5,6\n", encoding="utf-8")
    with pytest.raises(CXDataError, match="line 3"):
        cx.io.read_survey(path)


def test_usecols_unknown_column(tmp_path):
    data = pd.DataFrame({"a": [1.0], "b": [2.0]})
    pyreadstat.write_sav(data, str(tmp_path / "x.sav"))
    with pytest.raises(CXDataError, match="no column 'zzz'"):
        cx.io.read_survey(tmp_path / "x.sav", usecols=["zzz"])
    assert cx.io.read_survey(tmp_path / "x.sav", usecols=["b"]).columns.tolist() == ["b"]
