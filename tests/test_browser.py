"""Reports as a stakeholder sees them: the index and a report rendered in headless Chromium.

A small batch (company + one region) is served on 127.0.0.1; a harness page opens the index in
an iframe, follows every link on it, waits for the images and records what each page shows
(title, heading, images loaded, visible text). Chromium is Debian's ``chromium``; the session
fixture installs it with apt-get when it is missing and we are root, else the tests are skipped
with the reason. Screenshots and a PDF are written too (kept under the pytest tmp folder).
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cxlab.report import html as rh
from cxlab.report import runner as rp

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="session")
def chromium_exe():
    exe = rh.find_chromium()
    if exe:
        return exe
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("Chromium is missing and cannot be installed here (needs root and apt-get); "
                    "install Debian's `chromium` package to run the browser tests.")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:        # stale package lists on a fresh machine
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, timeout=600)
        done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    exe = rh.find_chromium()
    if not exe:
        pytest.skip(f"apt-get could not install chromium: {done.stderr.strip()[-300:]}")
    return exe


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser")
    batch = rp.run("quarterly", by="region", segments=["North"], out=out, workers=2,
                   params={"bootstrap": 50}, progress=False)
    assert batch.ok, batch.summary()
    return batch


@pytest.fixture(scope="module")
def server(published):
    handler = functools.partial(_QuietHandler, directory=str(published.out_dir))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


HARNESS = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="f" style="width:1280px;height:900px"></iframe>
<script>
const frame = document.getElementById('f');
function load(url) {
  return new Promise(done => { frame.onload = () => done(frame.contentDocument); frame.src = url; });
}
async function look(url) {
  const doc = await load(url);
  const imgs = [...doc.images];
  await Promise.all(imgs.map(i => i.complete ? null :
      new Promise(r => { i.onload = r; i.onerror = r; })));
  return {url, title: doc.title, h1: (doc.querySelector('h1') || {}).textContent || '',
          links: [...doc.querySelectorAll('a[href]')].map(a => a.href),
          images: imgs.length, loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
          text: doc.body.innerText};
}
(async () => {
  const index = await look('index.html');
  const pages = [index];
  for (const link of index.links.filter(l => l.endsWith('.html'))) pages.push(await look(link));
  document.getElementById('result').textContent = JSON.stringify(pages);
})().catch(e => { document.getElementById('result').textContent = 'HARNESS ERROR ' + e; });
</script></body></html>"""


@pytest.fixture(scope="module")
def pages(published, server, chromium_exe):
    (published.out_dir / "_harness.html").write_text(HARNESS)
    done = rh.chromium(["--dump-dom", "--virtual-time-budget=30000", f"{server}/_harness.html"],
                       timeout=120)
    (published.out_dir / "_harness.html").unlink()
    match = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, flags=re.S)
    assert match, f"harness did not run: {done.stderr[-500:]}"
    text = html.unescape(match.group(1))
    assert not text.startswith(("pending", "HARNESS ERROR")), text[:300]
    return json.loads(text)


def test_index_links_open_each_report(published, pages):
    index, *reports = pages
    reports = [p for p in reports if "/alerts/" not in p["url"]]     # the alert digest aside
    assert index["title"].startswith("Customer-experience reports")
    assert len(reports) == len(published.reports) == 2
    for page, entry in zip(reports, published.reports):
        assert page["url"].endswith(entry["html"])
        assert page["title"].startswith(entry["label"])
        assert entry["label"] in page["h1"]
        assert any(link.endswith("/index.html") for link in page["links"])   # way back


def test_charts_are_present_and_loaded(pages):
    for page in [p for p in pages[1:] if "/alerts/" not in p["url"]]:
        assert page["images"] >= 3, page["url"]
        assert page["loaded"] == page["images"], page["url"]


def test_no_error_or_code_text_shows(pages):
    for page in pages:
        for bad in ("Traceback", "Error", "Exception", "cx.reports", "report_content", "import ", "NaN", "nan%"):
            assert bad not in page["text"], (page["url"], bad)
    index_text = pages[0]["text"]
    assert "NPS" in index_text and "published" in index_text.lower()


def test_screenshots_and_pdf(published, server, chromium_exe):
    out = published.out_dir
    north = f"quarterly-region-{rp.slug('North')}"
    for name, height in (("index", 1100), (north, 3000)):
        png = out.parent / f"{name}.png"
        rh.chromium([f"--screenshot={png}", f"--window-size=1280,{height}",
                     f"{server}/{name}.html"], timeout=120)
        assert png.exists() and png.stat().st_size > 30_000       # a rendered page, not blank
    pdf = rh.html_to_pdf(out / f"{north}.html", out.parent / "north.pdf")
    assert pdf.read_bytes()[:4] == b"%PDF" and pdf.stat().st_size > 20_000


# ------------------------------------------------------------------ hostile labels (issue 15)

PAYLOADS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')

INSPECT = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="f" style="width:1280px;height:900px"></iframe>
<script>
const frame = document.getElementById('f');
function load(url) {
  return new Promise(done => { frame.onload = () => done(frame.contentDocument); frame.src = url; });
}
async function look(url) {
  const doc = await load(url);
  return {url, title: doc.title, scripts: doc.querySelectorAll('script').length,
          handlers: [...doc.querySelectorAll('*')].filter(e => [...e.attributes].some(
              a => a.name.startsWith('on'))).length,
          bad_images: [...doc.images].filter(i => !i.src.startsWith('data:')).length,
          js_links: [...doc.querySelectorAll('a[href]')].filter(
              a => a.href.startsWith('javascript:')).length,
          links: [...doc.querySelectorAll('a[href]')].map(a => a.href),
          csp: (doc.querySelector('meta[http-equiv="Content-Security-Policy"]') || {}).content,
          text: doc.body.innerText};
}
(async () => {
  const index = await look('index.html');
  const pages = [index];
  for (const link of index.links.filter(l => l.endsWith('.html'))) pages.push(await look(link));
  pages.push(await look('csp_probe.html'));
  document.getElementById('result').textContent = JSON.stringify(pages);
})().catch(e => { document.getElementById('result').textContent = 'HARNESS ERROR ' + e; });
</script></body></html>"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The bundled company with two regions renamed to script-injection payloads."""
    import pandas as pd

    from cxlab import datasets
    root = tmp_path_factory.mktemp("hostile")
    data = root / "data"
    data.mkdir()
    rename = {"North": PAYLOADS[0], "South": PAYLOADS[1]}
    for src in datasets.path("kestrel").iterdir():
        if src.suffix == ".csv":
            frame = pd.read_csv(src, dtype=str, keep_default_na=False)
            if "region" in frame.columns:
                frame["region"] = frame["region"].replace(rename)
            frame.to_csv(data / src.name, index=False)
        elif src.suffix == ".json":
            shutil.copy(src, data / src.name)
    batch = rp.run("quarterly", data=data, by="region", segments=list(PAYLOADS),
                   out=root / "out", workers=2, params={"bootstrap": 20}, progress=False)
    assert batch.ok, batch.summary()
    probe = rh.page("CSP probe", "<script>document.title = 'pwned'</script>"
                    "<img src=x onerror=\"document.title = 'pwned'\">")
    (batch.out_dir / "csp_probe.html").write_text(probe)
    return batch


def test_injected_labels_are_text_not_markup_in_the_browser(hostile, chromium_exe):
    folder = hostile.out_dir
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    (folder / "_inspect.html").write_text(INSPECT)
    try:
        done = rh.chromium(["--dump-dom", "--virtual-time-budget=30000",
                            f"http://127.0.0.1:{httpd.server_address[1]}/_inspect.html"],
                           timeout=180)
    finally:
        httpd.shutdown()
        httpd.server_close()
        (folder / "_inspect.html").unlink()
    match = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, flags=re.S)
    assert match, f"harness did not run: {done.stderr[-500:]}"
    text = html.unescape(match.group(1))
    assert not text.startswith(("pending", "HARNESS ERROR")), text[:300]
    *pages, probe = json.loads(text)
    reports = [p for p in pages[1:] if "/alerts/" not in p["url"]]
    assert len(reports) == len(hostile.reports)            # the index and every report
    for page in pages:
        assert page["scripts"] == 0 and page["handlers"] == 0, page["url"]
        assert page["bad_images"] == 0 and page["js_links"] == 0, page["url"]
        assert page["csp"] == rh.CSP, page["url"]
    for payload in PAYLOADS:                               # shown literally, as typed
        assert payload in pages[0]["text"]                 # the index cards
        assert any(payload in p["text"] for p in reports)
    company = next(p for p in reports if "Company" in p["title"])
    assert all(payload in company["text"] for payload in PAYLOADS)     # comparison table
    assert probe["title"] == "CSP probe"                   # the policy blocks inline script
