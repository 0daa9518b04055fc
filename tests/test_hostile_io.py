"""Hostile files thrown at the readers (issue 15): each attack is built in ``tmp_path`` and the
test states the intended behaviour -- the right values, a counted exclusion, or a named
CXDataError / CXWarning carrying the fix. Expected values are written out by hand."""

import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest

import cxlab as cx
from cxlab import io as cxio
from cxlab.checks import CXDataError, CXWarning


def report_n(df, column, action_part, value=None):
    rep = cx.io.read_report(df)
    sel = (rep["column"] == column) & rep["action"].str.contains(action_part, regex=False)
    if value is not None:
        sel &= rep["value"].astype(str) == str(value)
    return int(rep.loc[sel, "n"].sum())


def read_quietly(path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CXWarning)
        return cx.io.read_survey(path, **options)


# ------------------------------------------------------------ 4: thousands separators and decimals

def test_thousands_comma_in_a_dot_decimal_file_is_read_as_thousands(tmp_path):
    path = tmp_path / "revenue.csv"
    path.write_text('id,revenue\n1,"1,234"\n2,"950"\n', encoding="utf-8")
    with pytest.warns(CXWarning, match=r"'1,234'.*read as 1234.*decimal=','"):
        df = cx.io.read_survey(path)
    assert df["revenue"].tolist() == [1234.0, 950.0]
    assert report_n(df, "revenue", "thousands separators removed") == 1
    assert report_n(df, "revenue", "ambiguous numbers") == 1


def test_study_weights_on_one_scale(tmp_path):
    path = tmp_path / "weights.csv"
    path.write_text('id,weight\n1,"1,500"\n2,510\n3,"2,250"\n', encoding="utf-8")
    with pytest.warns(CXWarning, match="thousands or decimals"):
        df = cx.io.read_survey(path)
    assert df["weight"].tolist() == [1500.0, 510.0, 2250.0]


def test_column_evidence_decides_ambiguous_numbers_without_warning(tmp_path):
    path = tmp_path / "evidence.csv"
    path.write_text('id,a,b\n1,"1,234.5","1,5"\n2,"1,234","1,234"\n3,7,2\n', encoding="utf-8")
    df = read_quietly(path)
    assert df["a"].tolist() == [1234.5, 1234.0, 7.0]        # '.' decimals, ',' thousands
    assert df["b"].tolist() == [1.5, 1.234, 2.0]            # ',' decimals in this column
    assert report_n(df, "b", "decimal comma") == 2


def test_dot_thousands_in_a_decimal_comma_file(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("id;score;revenue\n1;7,5;1.234\n2;8,25;950\n3;6,5;12.500\n",
                    encoding="utf-8")
    with pytest.warns(CXWarning, match=r"'1\.234'.*read as 1234"):
        df = cx.io.read_survey(path)
    assert cx.io.survey_info(df)["decimal"] == ","
    assert df["score"].tolist() == [7.5, 8.25, 6.5]
    assert df["revenue"].tolist() == [1234.0, 950.0, 12500.0]


def test_explicit_decimal_and_spaced_thousands(tmp_path):
    path = tmp_path / "explicit.csv"
    path.write_text('id,x\n1,"1,234"\n2,"0,5"\n', encoding="utf-8")
    assert read_quietly(path, decimal=",")["x"].tolist() == [1.234, 0.5]
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("id;x\n1;1 234,50\n2;12\u00a0500\n3;7,25\n", encoding="utf-8")
    df = read_quietly(spaced)
    assert df["x"].tolist() == [1234.5, 12500.0, 7.25]
    assert report_n(df, "x", "thousands separators removed") == 2


def test_mixed_decimal_marks_with_ambiguous_values_are_refused(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text('id,x\n1,"1,5"\n2,3.75\n3,"1,234"\n', encoding="utf-8")
    with pytest.raises(CXDataError, match=r"Column 'x' mixes decimal commas and decimal points"):
        cx.io.read_survey(path)


def test_decimal_comma_detection_held(tmp_path):
    path = tmp_path / "comma.csv"
    path.write_text("a;b\n1;2,5\n2;3,25\n3;4\n", encoding="utf-8")
    df = read_quietly(path)
    assert cx.io.survey_info(df)["decimal"] == ","
    assert df["b"].tolist() == [2.5, 3.25, 4.0]


# --------------------------------------------------------------------- 5: Central/Eastern encodings

ENCODED = [
    ("cp1250", "Łódź", "id;miasto;ocena\n1;Łódź;7\n2;Kraków;9\n3;Gdańsk;8\n4;Wrocław;6\n"),
    ("cp1250", "Győr", "id;város;pont\n1;Győr;7\n2;Pécs;8\n3;Szőlő;5\n4;Kecskemét;6\n"),
    ("cp1250", "Košice", "id;mesto\n1;Bratislava\n2;Košice\n3;Žilina\n4;Trenčín\n"),
    ("cp1251", "Москва", "id;город;оценка\n1;Москва;7\n2;Киев;9\n3;Санкт-Петербург;8\n"),
    ("cp1251", "Львів", "id;місто\n1;Київ\n2;Львів\n3;Харків\n4;Одеса\n"),
    ("iso8859_2", "Łódź", "id;miasto\n1;Łódź\n2;Świętokrzyskie\n3;Zielona Góra\n4;Gdańsk\n"),
    ("cp1252", "Zürich", "id;région\n1;Zürich\n2;Genève\n3;Liège à côté\n4;déçu\n"),
    ("cp1252", "Málaga", "id;ciudad\n1;Málaga\n2;España\n3;¿Qué?\n4;Córdoba\n"),
    ("cp1252", "São Paulo",
     "id;cidade\n1;São Paulo\n2;Conceição\n3;não sei\n4;Brasília\n5;avaliação\n"),
    ("cp1252", "Göteborg", "id;stad\n1;Göteborg\n2;Malmö\n3;Västerås\n4;Umeå\n"),
]


@pytest.mark.parametrize("encoding,word,text", ENCODED, ids=[f"{e}-{w}" for e, w, _ in ENCODED])
def test_code_page_is_detected_and_reported(tmp_path, encoding, word, text):
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode(encoding))
    df = read_quietly(path)
    assert cx.io.survey_info(df)["encoding"] == encoding
    assert report_n(df, "(file)", "encoding detected", encoding) == 1
    assert word in set(df.iloc[:, 1])


def test_an_undecidable_code_page_is_warned_with_the_fix(tmp_path):
    path = tmp_path / "one_word.csv"
    path.write_bytes("id;miasto\n1;Gdańsk\n2;Gdańsk\n".encode("cp1250"))
    with pytest.warns(CXWarning, match=r"Gdañsk.*'Gdańsk'.*encoding='cp1250'"):
        cx.io.read_survey(path)
    fixed = read_quietly(path, encoding="cp1250")
    assert fixed["miasto"].tolist() == ["Gdańsk", "Gdańsk"]


def test_messy_example_stays_cp1252():
    df = cx.io.read_survey(Path(__file__).parents[1] / "examples" / "messy_survey.csv")
    assert cx.io.survey_info(df)["encoding"] == "cp1252"


# --------------------------------------------------------------------------- 6: Excel error cells

def _error_workbook(path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "q", "r", "s"])
    ws.append([1, 4, 3, 1])
    ws.append([2, "#DIV/0!", "#N/A", 2])
    ws.append([3, 5, 2, None])
    ws.append([4, "#VALUE!", 1, 4])
    ws["D4"] = "=A4*2"                       # openpyxl writes no cached value
    wb.save(path)


def test_excel_error_cells_are_counted_and_kept_like_a_csv(tmp_path):
    xlsx = tmp_path / "errors.xlsx"
    _error_workbook(xlsx)
    with pytest.warns(CXWarning, match=r"1 formula cell\(s\) have no saved result \('D4'\)"):
        df = cx.io.read_survey(xlsx)
    assert report_n(df, "q", "Excel error cell", "#DIV/0!") == 1
    assert report_n(df, "q", "Excel error cell", "#VALUE!") == 1
    assert report_n(df, "r", "Excel error cell", "#N/A") == 1
    assert report_n(df, "r", "answer code text set to missing", "#N/A") == 1
    assert report_n(df, "s", "formula without a saved result") == 1
    assert df["r"].tolist()[0] == 3 and np.isnan(df["r"].iloc[1])
    assert df["s"].isna().tolist() == [False, False, True, False]
    # the same table as CSV: '#DIV/0!' keeps the column as text, and the validator names it
    csv = tmp_path / "errors.csv"
    csv.write_text("id,q\n1,4\n2,#DIV/0!\n3,5\n4,#VALUE!\n", encoding="utf-8")
    from_csv = cx.io.read_survey(csv)
    assert list(df["q"]) == list(from_csv["q"]) == ["4", "#DIV/0!", "5", "#VALUE!"]
    with pytest.raises(CXDataError, match=r"'#DIV/0!'"):
        cx.checks.numeric(df, "q")


# ------------------------------------------------------------- 15: allocation bounded by used range

def test_stray_cell_at_xfd1048576_reads_in_little_memory_and_is_named(tmp_path):
    path = tmp_path / "stray.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in (["id", "q"], [1, 5], [2, 4], [3, 3]):
        ws.append(row)
    ws["XFD1048576"] = "x"
    wb.save(path)
    assert path.stat().st_size < 10_000
    tracemalloc.start()
    try:
        with pytest.warns(CXWarning, match=r"column XFD has no name.*XFD1048576"):
            df = cx.io.read_survey(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6                      # a padded read needs 17 billion cells
    assert list(df.columns) == ["id", "q", "Unnamed: XFD"]
    assert df["q"].tolist()[:3] == [5, 4, 3] and len(df) == 4
    assert report_n(df, "Unnamed: XFD", "values in a column without a header") == 1
    assert report_n(df, "(file)", "empty rows skipped") == 1048576 - 4 - 1


def test_sheet_larger_than_the_cell_bound_is_refused_with_the_reason(tmp_path, monkeypatch):
    path = tmp_path / "big.xlsx"
    pd.DataFrame({"a": range(30), "b": range(30)}).to_excel(path, index=False)
    monkeypatch.setattr(cxio, "MAX_CELLS", 40)
    with pytest.raises(CXDataError, match=r"more than 40 filled cells|31 rows x 2 columns"):
        cx.io.read_survey(path)


def test_csv_larger_than_free_memory_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "wide.csv"
    path.write_text("a,b,c\n" + "1,2,3\n" * 2000, encoding="utf-8")
    monkeypatch.setattr(cxio, "_available_memory", lambda: 10_000)
    with pytest.raises(CXDataError, match=r"2,0\d\d rows x 3 columns.*memory free.*chunksize"):
        cx.io.read_survey(path)
    chunks = list(cx.io.iter_survey(path, chunksize=500))      # streaming stays possible
    assert sum(map(len, chunks)) == 2000
    monkeypatch.setattr(cxio, "_available_memory", lambda: None)
    monkeypatch.setattr(cxio, "MAX_CELLS", 100)
    with pytest.raises(CXDataError, match=r"cxlab\.io\.MAX_CELLS"):
        cx.io.read_survey(path)


def test_parquet_and_sav_row_counts_are_checked_before_reading(tmp_path, monkeypatch):
    data = pd.DataFrame({"q": np.arange(100.0), "r": np.arange(100.0)})
    data.to_parquet(tmp_path / "s.parquet")
    pyreadstat.write_sav(data, str(tmp_path / "s.sav"))
    monkeypatch.setattr(cxio, "MAX_CELLS", 150)
    for name in ("s.parquet", "s.sav"):
        with pytest.raises(CXDataError, match="100 rows x 2 columns"):
            cx.io.read_survey(tmp_path / name)
        assert len(cx.io.read_survey(tmp_path / name, usecols=["q"])) == 100


# ------------------------------------------------------------------ 16: millions of header cells

def test_five_million_header_cells_are_refused_quickly(tmp_path):
    path = tmp_path / "one_line.csv"
    path.write_bytes(b",".join([b"a"] * 5_000_000))           # 10 MB, no newline
    with pytest.raises(CXDataError, match=r"at least [\d,]+ columns in its first line.*MAX_COLUMNS"):
        cx.io.read_survey(path)


def test_many_repeated_names_are_renamed_in_linear_time(tmp_path):
    n = 20_000
    path = tmp_path / "dups.csv"
    path.write_text(",".join(["q"] * n) + "\n" + ",".join(["1"] * n) + "\n", encoding="utf-8")
    with pytest.warns(CXWarning, match="repeated column names"):
        df = cx.io.read_survey(path)
    assert df.shape == (1, n) and df.columns.is_unique
    assert df.columns[-1] == f"q.{n - 1}"


# --------------------------------------------------------------------------- 18: long numeric ids

def test_22_digit_ids_stay_distinct_text(tmp_path):
    ids = [str(10**21 + 7 * i) for i in range(200)]
    path = tmp_path / "ids.csv"
    path.write_text("id,q\n" + "".join(f"{i},{k % 5}\n" for k, i in enumerate(ids)),
                    encoding="utf-8")
    df = read_quietly(path)
    assert df["id"].tolist() == ids and df["id"].nunique() == 200
    assert report_n(df, "id", "more than 15 digits kept as text") == 200
    # 17 digits with a blank cell would make pandas parse floats (and merge ids)
    blank = tmp_path / "blank.csv"
    blank.write_text("id,q\n12345678901234567,1\n,2\n12345678901234568,3\n", encoding="utf-8")
    got = read_quietly(blank)["id"].tolist()
    assert got[0] == "12345678901234567" and got[2] == "12345678901234568" and pd.isna(got[1])


def test_float_ids_above_2_53_are_warned_and_text_columns_keep_them(tmp_path):
    pd.DataFrame({"id": [2.0**53 + 2, 2.0**53 + 4], "q": [1.0, 2.0]}).to_parquet(
        tmp_path / "ids.parquet")
    with pytest.warns(CXWarning, match=r"Column 'id' holds 2 number\(s\) of 2\*\*53.*text_columns"):
        cx.io.read_survey(tmp_path / "ids.parquet")
    path = tmp_path / "zip.csv"
    path.write_text("zip,q\n00123,1\n04567,2\n", encoding="utf-8")
    assert read_quietly(path, text_columns=["zip"])["zip"].tolist() == ["00123", "04567"]
    with pytest.raises(CXDataError, match=r"no column 'zp' \(text_columns\).*did you mean 'zip'"):
        cx.io.read_survey(path, text_columns=["zp"])


# ------------------------------------------------------------------------- 19: clearer messages

def test_utf16_without_bom_is_read(tmp_path):
    for enc in ("utf-16-le", "utf-16-be"):
        path = tmp_path / f"{enc}.csv"
        path.write_bytes("name,q\nŁukasz,5\nAnaïs,4\n".encode(enc))
        df = read_quietly(path)
        assert cx.io.survey_info(df)["encoding"] == enc
        assert df["name"].tolist() == ["Łukasz", "Anaïs"]


def test_nul_bytes_message_names_the_encoding_option(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\x00\x01\x02garbage\x00\x00\x00\x05" * 50)
    with pytest.raises(CXDataError, match=r"NUL bytes.*encoding='utf-16-le'"):
        cx.io.read_survey(path)


def test_column_typos_get_did_you_mean_and_every_column_of_the_file(tmp_path):
    cols = ["id", "region", "plan"] + [f"q{i}" for i in range(20)]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(cols) + "\n" + ",".join(["1"] * len(cols)) + "\n", encoding="utf-8")
    with pytest.raises(CXDataError) as err:
        cx.io.read_survey(path, usecols=["id", "regoin"])
    msg = str(err.value)
    assert "'regoin': did you mean 'region'?" in msg and "Columns in the file (23)" in msg
    assert "'q19'" in msg                                  # all columns, not the first 12
    with pytest.raises(CXDataError, match=r"'Q1': did you mean 'q1'"):
        cx.io.read_survey(path, missing_codes={"Q1": [99]})
    df = cx.io.read_survey(path, usecols=["id", "q3"])
    assert cx.io.survey_info(df)["file_columns"] == cols
    assert cx.io.columns_of(path) == cols


def test_sheet_typo_gets_did_you_mean(tmp_path):
    path = tmp_path / "sheets.xlsx"
    with pd.ExcelWriter(path) as xw:
        pd.DataFrame({"a": [1]}).to_excel(xw, sheet_name="Survey", index=False)
    with pytest.raises(CXDataError, match=r"no sheet 'Survy'. Did you mean 'Survey'"):
        cx.io.read_survey(path, sheet="Survy")
    with pytest.raises(CXDataError, match="no sheet number 3"):
        cx.io.read_survey(path, sheet=3)


# -------------------------------------------- 12: report inputs through cx.io.read_survey (and held)

def _xlsx_bytes(tmp_path):
    good = tmp_path / "good.xlsx"
    pd.DataFrame({"q": [1, 2, 3], "g": ["a", "b", "c"]}).to_excel(good, index=False)
    return good.read_bytes()


@pytest.mark.parametrize("name,content,match", [
    ("empty.csv", b"", "is empty"),
    ("blank.csv", b"\n\n\n", "is empty"),
    ("header_only.csv", b"a,b\n", "no data rows"),
    ("header_only.xlsx", "header", "no data rows"),
    ("truncated.xlsx", "truncated", "Could not read truncated.xlsx"),
    ("workbook.csv", "xlsx", r"content is a zip archive.*format='excel'"),
    ("survey.csv", "sav", r"content is an SPSS \.sav file"),
    ("text.xlsx", b"a,b\n1,2\n", "Could not read text.xlsx"),
    ("garbage.sav", b"not a spss file at all", "Could not read garbage.sav"),
    ("truncated.sav", "cut_sav", "Could not read truncated.sav"),
    ("truncated.parquet", b"PAR1 not really", "Could not read truncated.parquet"),
    ("ragged.csv", b"a,b\n1,2\n3,4,5,6\n", "line 3"),
])
def test_broken_files_give_a_named_error(tmp_path, name, content, match):
    if content == "header":
        pd.DataFrame(columns=["a", "b"]).to_excel(tmp_path / name, index=False)
    else:
        if content in ("truncated", "xlsx"):
            raw = _xlsx_bytes(tmp_path)
            content = raw[: len(raw) // 2] if content == "truncated" else raw
        elif content in ("sav", "cut_sav"):
            pyreadstat.write_sav(pd.DataFrame({"q": np.arange(50.0)}), str(tmp_path / "s.sav"))
            raw = (tmp_path / "s.sav").read_bytes()
            content = raw if content == "sav" else raw[: len(raw) // 2]
        (tmp_path / name).write_bytes(content)
    with pytest.raises(CXDataError, match=match):
        cx.io.read_survey(tmp_path / name)


def test_xlsx_with_a_corrupt_sheet_gives_a_named_error(tmp_path):
    import zipfile
    good = tmp_path / "good.xlsx"
    pd.DataFrame({"q": [1, 2]}).to_excel(good, index=False)
    bad = tmp_path / "corrupt.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]          # unclosed XML
            zout.writestr(item, data)
    with pytest.raises(CXDataError, match="Could not read corrupt.xlsx as excel"):
        cx.io.read_survey(bad)


def test_cp1250_file_reads_through_the_single_entry_point(tmp_path):
    path = tmp_path / "regions.csv"
    path.write_bytes("region,nps\nŁódź,9\nWrocław,7\nPoznań,10\n".encode("cp1250"))
    df = read_quietly(path)
    assert df["region"].tolist() == ["Łódź", "Wrocław", "Poznań"]
    assert df["nps"].tolist() == [9, 7, 10]


def test_formula_with_a_saved_result_is_read_and_not_counted(tmp_path):
    import zipfile
    src = tmp_path / "calc.xlsx"
    _error_workbook(src)
    done = tmp_path / "saved.xlsx"                    # as Excel saves it: the result beside <f>
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(done, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<f>A4*2</f><v />", b"<f>A4*2</f><v>8</v>")
            zout.writestr(item, data)
    df = cx.io.read_survey(done)
    assert df["s"].tolist() == [1, 2, 8, 4]
    assert report_n(df, "s", "formula without a saved result") == 0


# ------------------------------------------------------------------ 14 (io side): read options

@pytest.mark.parametrize("options,match", [
    ({"encoding": "klingon"}, "Unknown encoding 'klingon'"),
    ({"encoding": "utf8x"}, "Did you mean 'utf-8'"),
    ({"delimiter": ";;"}, "delimiter must be one character"),
    ({"decimal": "comma"}, "decimal must be '.' or ','"),
    ({"header_rows": -1}, "header_rows must be 'auto'"),
    ({"usecols": "id"}, "usecols must be a list of column names"),
    ({"chunksize": -1}, "chunksize must be a positive whole number"),
    ({"sheet": 1.5}, "sheet must be a sheet name"),
])
def test_unusable_read_options_are_refused(tmp_path, options, match):
    path = tmp_path / "s.csv"
    path.write_text("id,q\n1,2\n", encoding="utf-8")
    with pytest.raises(CXDataError, match=match):
        cx.io.read_survey(path, **options)


def test_read_options_list_matches_read_survey():
    assert "encoding" in cx.io.READ_OPTIONS and "text_columns" in cx.io.READ_OPTIONS
    assert "path" not in cx.io.READ_OPTIONS


def test_chunks_read_ambiguous_numbers_one_way(tmp_path):
    path = tmp_path / "chunks.csv"
    path.write_text('id,x\n1,"1,5"\n2,"2,25"\n3,"1,234"\n4,"4,5"\n', encoding="utf-8")
    whole = read_quietly(path)
    parts = pd.concat(cx.io.iter_survey(path, chunksize=2))
    assert whole["x"].tolist() == parts["x"].tolist() == [1.5, 2.25, 1.234, 4.5]
    late = tmp_path / "late_evidence.csv"                 # the default was used, then refuted
    late.write_text('id,x\n1,"1,234"\n2,7\n3,"1,5"\n', encoding="utf-8")
    with pytest.raises(CXDataError, match=r"earlier rows held values like '1,234'.*decimal="):
        with pytest.warns(CXWarning):
            list(cx.io.iter_survey(late, chunksize=2))


def test_compressed_csv_is_sized_by_its_text(tmp_path, monkeypatch):
    import gzip
    import zipfile
    text = "a,b\n" + "1,2\n" * 50_000                     # 200 KB of text, a few KB packed
    with gzip.open(tmp_path / "s.csv.gz", "wt") as fh:
        fh.write(text)
    with zipfile.ZipFile(tmp_path / "s.csv.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("s.csv", text)
    monkeypatch.setattr(cxio, "MAX_CELLS", 60_000)
    for name in ("s.csv.gz", "s.csv.zip"):
        with pytest.raises(CXDataError, match=r"50,\d\d\d rows x 2 columns"):
            cx.io.read_survey(tmp_path / name)


def test_long_ids_are_text_in_every_chunk(tmp_path):
    ids = [str(10**21 + i) for i in range(3)] + ["17", "18"]     # short ids in the last chunk
    path = tmp_path / "ids.csv"
    path.write_text("id,q\n" + "".join(f"{i},1\n" for i in ids), encoding="utf-8")
    parts = list(cx.io.iter_survey(path, chunksize=3))
    assert [type(v) for p in parts for v in p["id"]] == [str] * 5
    assert pd.concat(parts)["id"].tolist() == ids
