"""Hostile world, publication side (issue 15): script injection, wrong file behind a link, long
and non-Latin names, orphaned workers, mixed or partial batches, a full disk, an unusable output
folder, stale pages, leaked paths and ids. Each test asserts the intended behaviour: a
consistent folder, an untouched previous publication, or a named error with the fix.

Batches use a tiny template (parameters, header, KPIs, comparison, record: a few seconds a
kernel) so that the protocol, not the statistics, is what takes the time. Interruption and
disk-full tests need Linux; the tmpfs tests need root (``mount``) and skip with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import unicodedata
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from cxlab import study as st
from cxlab.checks import CXDataError
from cxlab.contract import Company
from cxlab.display import escape, styled_table
from cxlab.report import data as rd
from cxlab.report import html as rh
from cxlab.report import publication as pb
from cxlab.report import runner as rp
from cxlab.report.parameters import cell_source

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PAYLOADS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
            "[x](javascript:alert(1))")


# ------------------------------------------------------------------------------ helpers

def tiny_template(path: Path) -> Path:
    """A quarterly-shaped template with only the cheap sections (and an optional sleep, from
    the environment, so a test can interrupt a running batch)."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(cell_source("quarterly"))
    params.metadata["tags"] = ["parameters"]
    body = nbformat.v4.new_code_cell(
        "import os, time\nfrom cxlab.report import quarterly as rq\n"
        "ctx = rq.prepare('quarterly', globals())\n"
        "time.sleep(float(os.environ.get('CXLAB_TEST_SLEEP', '0')))\n"
        "rq.show_header(ctx)\nrq.show_kpis(ctx)\nrq.show_comparison(ctx)")
    record = nbformat.v4.new_code_cell("rq.record(ctx)")
    record.metadata["tags"] = ["remove-cell"]
    nb.cells = [params, body, record]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = path / "tiny_quarterly.ipynb"
    nbformat.write(nb, path)
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its SHA-256 (the publication, byte for byte)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_consistent(folder: Path) -> dict:
    """The manifest parses, every page it links exists, every page in the folder is listed."""
    manifest = json.loads((folder / "manifest.json").read_text())
    listed = set()
    for batch in manifest["batches"]:
        for entry in batch["reports"]:
            for key in ("html", "notebook"):
                if entry.get(key):
                    assert (folder / entry[key]).is_file(), entry
                    listed.add(entry[key])
            if entry["status"] != "ok":
                assert not entry.get("html")
    pages = {p.relative_to(folder).as_posix() for p in folder.glob("*.html")} - {"index.html"}
    notebooks = {p.relative_to(folder).as_posix() for p in folder.glob("notebooks/*.ipynb")}
    assert pages | notebooks <= listed, (pages | notebooks) - listed
    index = (folder / "index.html").read_text()
    for batch in manifest["batches"]:
        for entry in batch["reports"]:
            if entry.get("html"):
                assert rh.href(entry["html"]) in index
    return manifest


def no_leftovers(out: Path) -> None:
    assert not list(out.rglob(".*.lock")), "lock file left behind"
    assert not list(out.rglob(".*staging*")), "staging folder left behind"
    assert not list(out.rglob("*.tmp")) and not list(out.rglob("*.partial*"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_template(tmp_path_factory.mktemp("tpl"))


@pytest.fixture(scope="module")
def published(tiny, tmp_path_factory):
    """A finished batch: company + North + South."""
    out = tmp_path_factory.mktemp("pub")
    batch = rp.run(str(tiny), by="region", segments=["North", "South"], out=out, workers=2,
                   progress=False)
    assert batch.ok, batch.summary()
    return batch


def _mount_tmpfs(target: Path, options: str) -> None:
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root and mount(8) for a tmpfs")
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not permitted here: {done.stderr.strip()}")


def _umount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True)


# ------------------------------------------------------------------------------ 1 escaping

def test_one_escaping_rule_for_html_and_markdown():
    from nbconvert.filters.markdown_mistune import markdown2html_mistune as md2html
    for payload in PAYLOADS:
        out = escape(payload)
        assert not set("<>\"'[]()") & set(out)
        rendered = md2html(f"# Region {out}\n\n**{out}** and _{out}_\n\n- {out}")
        assert "<script" not in rendered and "<img" not in rendered
        assert not re.search(r'href="(?!#)', rendered)       # only the heading's own anchor


def test_tables_escape_cells_and_labels():
    frame = pd.DataFrame({PAYLOADS[1]: [PAYLOADS[0]], "n": [3]}, index=[PAYLOADS[0]])
    for text in (styled_table(frame, index=True).to_html(),
                 __import__("cxlab").display.html_table(frame, note=PAYLOADS[1])):
        assert "<script" not in text and "<img" not in text


def test_every_page_and_the_index_carry_the_content_security_policy():
    page = rh.page(PAYLOADS[0], "<p>body</p>", subtitle=PAYLOADS[1], back="index.html")
    index = rh.index_html({"period": "2026Q3", "batches": [{
        "template": "quarterly", "by": "region", "reports": [
            {"name": "q", "label": PAYLOADS[1], "status": "ok", "html": "q-москва.html",
             "kpis": [{"name": PAYLOADS[0], "text": "1"}]}]}]})
    for text in (page, index):
        head = text.split("</head>")[0]
        assert f'<meta http-equiv="Content-Security-Policy" content="{rh.CSP}">' in head
        assert "script-src" not in rh.CSP and "default-src 'none'" in rh.CSP
        assert "<script" not in text and "<img" not in text
    import html
    link = rh.href("q-москва.html")                   # percent-encoded, then escaped
    assert f'href="{link}"' in index
    assert html.unescape(link) == "q-%D0%BC%D0%BE%D1%81%D0%BA%D0%B2%D0%B0.html"


# ------------------------------------------------------------------------------ 2, 22 slugs

def test_one_slug_rule_unique_readable_nfc_and_short():
    names = ["North East", "North-East", "north east", "north-east", "Москва", "Киев", "東京",
             "大阪", "x", "X", "Ünïcode", ""]
    slugs = [pb.slug(n) for n in names]
    assert len(set(slugs)) == len(names), slugs
    assert pb.slug("north-east") == "north-east" and pb.slug("region") == "region"
    assert pb.slug("Москва").startswith("москва-") and pb.slug("東京").startswith("東京-")
    nfc, nfd = unicodedata.normalize("NFC", "Łódź"), unicodedata.normalize("NFD", "Łódź")
    assert nfc != nfd and pb.slug(nfc) == pb.slug(nfd)
    assert pb.slug("North East") == pb.slug("North East")            # deterministic
    attacker = pb.slug("North")                                       # a label mimicking a hash
    assert pb.slug(attacker) != attacker
    long = "Ł" * 300
    assert len(pb.slug(long).encode()) < 120 and len(pb.slug("é" * 300)) <= 51


def test_labels_are_nfc_when_data_are_loaded(tmp_path):
    nfc, nfd = unicodedata.normalize("NFC", "Łódź"), unicodedata.normalize("NFD", "Łódź")
    company = Company(survey=pd.DataFrame({"region": [nfc, nfd, "Kraków"], "ltr": [1, 2, 3]}))
    notes = rd.normalise_labels(company)
    assert company.survey["region"].nunique() == 2 and len(notes) == 1
    assert "survey.region" in notes[0] and "NFC" in notes[0]
    frame = pd.DataFrame({"region": [nfc, nfd] * 20, "wave": "2026Q3", "ltr": 7})
    frame.to_csv(tmp_path / "survey.csv", index=False)
    loaded_notes: list = []
    loaded = rd.load_data(tmp_path, notes=loaded_notes)
    assert rd.segment_values(loaded.survey, "region") == [nfc] and loaded_notes


# ------------------------------------------------------------------------------ 13 output folder

def test_output_folder_that_is_a_file_is_refused_before_any_kernel(tmp_path, tiny):
    blocker = tmp_path / "reports"
    blocker.write_text("not a folder")
    t0 = time.perf_counter()
    with pytest.raises(CXDataError, match="is a file.*--out"):
        rp.run(str(tiny), by="none", out=blocker, workers=1, progress=False)
    assert time.perf_counter() - t0 < 60          # no kernel was started (generous bound)
    with pytest.raises(CXDataError, match="is a file"):
        st.write_study(EXAMPLES / "study_messy.yaml", out=blocker / "study", validate_only=True)
    from cxlab import cli
    assert cli.main(["report", str(tiny), "--by", "none", "--out", str(blocker)]) == 2


def test_read_only_output_folder_is_refused_with_the_fix(tmp_path, tiny):
    target = tmp_path / "ro"
    _mount_tmpfs(target, "ro,size=1m")
    try:
        with pytest.raises(CXDataError, match="not writable.*Give --out"):
            rp.run(str(tiny), by="none", out=target, workers=1, progress=False)
        with pytest.raises(CXDataError, match="not writable"):
            st.write_study(EXAMPLES / "study_messy.yaml", out=target / "s", validate_only=True)
    finally:
        _umount(target)


# ------------------------------------------------------------------------------ 9 lock

def test_a_second_batch_on_the_same_folder_gets_a_named_error(tmp_path):
    folder = tmp_path / "2026Q3"
    with pb.Publication(folder):
        lock = tmp_path / ".2026Q3.lock"
        assert f"pid {os.getpid()}" in lock.read_text()
        with pytest.raises(CXDataError, match=rf"Another cxlab run.*pid {os.getpid()}.*--out"):
            pb.Publication(folder).__enter__()
        code = ("import sys; from cxlab.report.publication import Publication\n"
                f"Publication({str(folder)!r}).__enter__()")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode != 0 and "Another cxlab run" in done.stderr
    no_leftovers(tmp_path)
    with pb.Publication(folder):          # released: the next run goes ahead
        pass


# ------------------------------------------------------------------------------ 11 disk full

def test_a_commit_that_cannot_write_leaves_the_previous_publication(tmp_path, monkeypatch):
    folder = tmp_path / "2026Q3"
    with pb.Publication(folder) as pub:
        (pub.staging / "a.html").write_text("old page")
        pub.commit(["a.html"], [], {"manifest.json": "{}", "index.html": "old index"})
    before = snapshot(folder)

    def full(path, content):
        raise OSError(28, os.strerror(28))
    monkeypatch.setattr(pb, "atomic_write", full)
    with pytest.raises(CXDataError, match="No space left.*nothing was published.*Free disk"):
        with pb.Publication(folder) as pub:
            (pub.staging / "a.html").write_text("new page")
            pub.commit(["a.html"], [], {"manifest.json": "{}", "index.html": "new"})
    assert snapshot(folder) == before
    no_leftovers(tmp_path)


def test_disk_full_during_a_batch_keeps_the_previous_publication(tmp_path, tiny, published):
    mount = tmp_path / "small"
    _mount_tmpfs(mount, "size=4m")
    try:
        shutil.copytree(published.out_dir, mount / published.out_dir.name)
        before = snapshot(mount / published.out_dir.name)
        free = shutil.disk_usage(mount).free
        (mount / "filler").write_bytes(b"\0" * max(0, free - 16_000))
        with pytest.raises(CXDataError, match="No space left|not writable"):
            rp.run(str(tiny), by="region", segments=["North"], out=mount, workers=1,
                   progress=False)
        assert snapshot(mount / published.out_dir.name) == before
        (mount / "filler").unlink()
        assert not list(mount.glob(".*staging*")) and not list(mount.glob(".*.lock"))
    finally:
        _umount(mount)


# ------------------------------------------------------------------------------ 10, 24 batches

def test_batch_publishes_consistently_without_machine_paths(published, tmp_path):
    out = published.out_dir
    manifest = assert_consistent(out)
    no_leftovers(out.parent)
    text = (out / "manifest.json").read_text()
    assert str(out.parent) not in text and sys.executable not in text and "/home/" not in text
    analyst = json.loads((out.parent / f"{out.name}.analyst.json").read_text())
    assert analyst["tiny_quarterly-by-region"]["folder"] == str(out)
    names = [r["name"] for r in manifest["batches"][0]["reports"]]
    assert names[0] == "tiny_quarterly-company" and len(set(names)) == 3


def test_partial_rerun_keeps_every_report_in_the_index(published, tiny, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(published.out_dir, out / published.out_dir.name)
    folder = out / published.out_dir.name
    first = rp.read_manifest(folder)["batches"][0]
    rerun = rp.run(str(tiny), by="region", segments=["North"], company=False, out=out,
                   workers=1, progress=False)
    assert rerun.ok and len(rerun.reports) == 1
    manifest = assert_consistent(folder)
    batch = manifest["batches"][0]
    by_label = {r["label"]: r for r in batch["reports"]}
    assert set(by_label) == {"Company", "Region North", "Region South"}
    assert by_label["Region North"]["carried_over"] is False
    assert by_label["Region North"]["run"] > first["started"] or \
        by_label["Region North"]["run"] == rerun.manifest["started"]
    assert by_label["Region South"]["carried_over"] is True
    assert by_label["Region South"]["run"] == first["started"]
    assert {r["run"] for r in batch["runs"]} == {first["started"], rerun.manifest["started"]}
    index = (folder / "index.html").read_text()
    assert "From an earlier run" in index and index.count('class="card"') == 3
    no_leftovers(out)


def test_retried_kernel_start_leaves_no_error(tmp_path, monkeypatch):
    import papermill as pm
    calls = []

    class DeadKernelError(RuntimeError):
        pass

    def fake_execute(template, output, **kw):
        calls.append(output)
        if len(calls) == 1:
            raise DeadKernelError("Kernel died before replying to kernel_info")
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("rq.record(ctx)")
        cell.outputs = [nbformat.v4.new_output("display_data", data={
            "application/vnd.cxlab.report+json": {"status": "ok", "kpis": [], "notes": []}})]
        nb.cells = [cell]
        nbformat.write(nb, output)
    monkeypatch.setattr(pm, "execute_notebook", fake_execute)
    job = rp.Job("r", tmp_path / "t.ipynb", {}, tmp_path, notebook=Path("r.ipynb"),
                 cwd=tmp_path, title="R")
    entry = rp.execute_job(job)
    assert entry["status"] == "ok" and entry["attempts"] == 2 and entry["error"] is None
    assert any("retried" in n for n in entry["notes"])


# ------------------------------------------------------------------------------ 8 kill

def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout.split()
    return [int(p) for p in out]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def _start_batch(out: Path, tiny: Path, workers: int) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        from cxlab.report import runner as rp
        rp.run({str(tiny)!r}, by="region", segments=["North", "South"], out={str(out)!r},
               workers={workers}, progress=False)
    """)
    env = {**os.environ, "CXLAB_TEST_SLEEP": "120"}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_kernels(proc: subprocess.Popen, workers: int, limit: float = 120) -> list[int]:
    """Pids of the batch's workers and their kernels, once every worker has a kernel."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        workers_ = _children(proc.pid)
        kernels = [k for w in workers_ for k in _children(w)]
        if len(workers_) >= workers and len(kernels) >= workers:
            time.sleep(3)          # the kernels are inside the sleeping cell
            return workers_ + kernels
        time.sleep(0.5)
    proc.kill()
    pytest.fail(f"the batch did not start its kernels: {proc.stderr.read()[-500:]}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_killed_batch_leaves_no_orphans_and_the_old_publication(published, tiny, tmp_path, how):
    out = tmp_path / "out"
    shutil.copytree(published.out_dir, out / published.out_dir.name)
    folder = out / published.out_dir.name
    before = snapshot(folder)
    proc = _start_batch(out, tiny, workers=2)
    family = _wait_for_kernels(proc, 2)
    proc.send_signal(getattr(signal, how))
    proc.wait(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in family):
        time.sleep(0.5)
    assert not [p for p in family if _alive(p)], "workers or kernels outlived the batch"
    if how == "SIGKILL":
        assert snapshot(folder) == before            # nothing of the killed run was published
    else:                                            # terminated: like Ctrl-C, nothing finished
        manifest = assert_consistent(folder)
        batch = manifest["batches"][0]
        assert batch["status"] == "interrupted"
        assert {r["label"] for r in batch["reports"]} == {"Company", "Region North",
                                                         "Region South"}
        for name in ("tiny_quarterly-company.html",):
            assert (folder / name).read_bytes() == (published.out_dir / name).read_bytes()
    assert not list(out.glob(".*.lock")) or how == "SIGKILL"
    with pb.Publication(folder):                     # the lock died with the batch
        pass
    no_leftovers(out)


# ------------------------------------------------------------------------------ 21, 7 study

def test_invalid_study_rerun_removes_the_earlier_study_page_and_shows_counts(tmp_path):
    out = tmp_path / "study"
    out.mkdir()
    (out / "driver_study.html").write_text("<p>an earlier, valid study</p>")
    (out / "driver_study.ipynb").write_text("{}")
    code = st.write_study(EXAMPLES / "study_messy.yaml", out=out,
                          data=EXAMPLES / "messy_survey_broken.csv")
    assert code == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "invalid"
    assert not (out / "driver_study.html").exists() and not (out / "driver_study.ipynb").exists()
    assert "driver_study.html" not in (out / "index.html").read_text()
    detail = (out / "validation.txt").read_text()                 # the analyst's copy: detail
    assert "R_00299" in detail and "at rows" in detail
    page = (out / "validation.html").read_text()                  # stakeholder page: counts
    assert "R_00299" not in page and "at rows" not in page and "rows affected" in page
    text = (out / "manifest.json").read_text()
    assert str(EXAMPLES) not in text and str(tmp_path) not in text
    no_leftovers(tmp_path)


def test_stakeholder_quality_table_has_counts_not_ids():
    schema = st.load_schema(EXAMPLES / "study_messy.yaml")
    frame, customers = st.load_data(schema)
    rep = st.validate(schema, frame, customers)
    assert any("AC1" in i.message or "at rows" in i.message for i in rep.issues)
    from cxlab.study.sections import issue_counts
    table = issue_counts(rep)
    assert list(table.columns) == ["severity", "check", "column", "rows affected"]
    flat = table.to_string()
    assert "AC1" not in flat and "at rows" not in flat and len(table) == len(rep.issues)


# ------------------------------------------------------------------------------ 2, 22 end to end

def test_every_label_gets_its_own_page_and_the_manifest_matches(tiny, tmp_path):
    import numpy as np
    nfc, nfd = unicodedata.normalize("NFC", "Łódź"), unicodedata.normalize("NFD", "Łódź")
    long = ("Region of the " + "very " * 57 + "long name")[:300]      # 300 characters
    assert len(long) == 300
    labels = ["North East", "North-East", "north east", "Москва", "Киев", long]
    rng = np.random.default_rng(5)
    rows = [(lab, 40) for lab in labels] + [(nfc, 20), (nfd, 20)]
    survey = pd.DataFrame([{"wave": "2026Q3", "region": lab, "ltr": int(rng.integers(0, 11)),
                            "osat": int(rng.integers(1, 6)), "effort": int(rng.integers(1, 8))}
                           for lab, n in rows for _ in range(n)])
    (tmp_path / "data").mkdir()
    survey.to_csv(tmp_path / "data" / "survey.csv", index=False)
    batch = rp.run(str(tiny), data=tmp_path / "data", by="region", company=False,
                   out=tmp_path / "out", workers=2, progress=False)
    assert batch.ok, batch.summary()
    assert sorted(r["segment"] for r in batch.reports) == sorted(labels + [nfc])   # one Łódź
    assert any("NFC" in n for n in batch.manifest["notes"])
    manifest = assert_consistent(batch.out_dir)
    entries = manifest["batches"][0]["reports"]
    assert len({e["html"] for e in entries}) == len(entries) == 7
    for e in entries:
        page = (batch.out_dir / e["html"]).read_text()
        title = page.split("<title>")[1].split("</title>")[0]
        assert __import__("html").unescape(title).startswith(f"Region {e['segment']}")
        assert len(e["html"].encode()) < 200                         # fits any file system
        assert e["kpis"] and e["kpis"][0]["n"] == 40                 # its own base, not another's
    index = (batch.out_dir / "index.html").read_text()
    assert "Москва" in index and "Киев" in index and index.count('class="card"') == 7


def test_a_concurrent_batch_is_refused_before_any_kernel(tiny, tmp_path):
    folder = tmp_path / "out" / "2026Q3"
    with pb.Publication(folder):
        with pytest.raises(CXDataError, match="Another cxlab run.*pid"):
            rp.run(str(tiny), by="none", out=tmp_path / "out", workers=1, progress=False)
        assert not (folder / "manifest.json").exists()


@pytest.mark.slow
def test_study_page_shows_counts_not_ids_and_an_invalid_rerun_removes_it(tmp_path):
    out = tmp_path / "study"
    assert st.write_study(EXAMPLES / "study_messy.yaml", out=out, bootstrap=20) == 0
    page = (out / "driver_study.html").read_text()
    assert not re.search(r"\bAC1\d{5}\b|\bR_\d{5}\b|at rows? \d", page)     # no ids, no rows
    assert re.search(r"\bAC1\d{5}\b", (out / "validation.txt").read_text())  # analyst copy
    assert st.write_study(EXAMPLES / "study_messy.yaml", out=out,
                          data=EXAMPLES / "messy_survey_broken.csv") == 2
    assert not (out / "driver_study.html").exists()
    assert json.loads((out / "manifest.json").read_text())["status"] == "invalid"
    no_leftovers(tmp_path)
