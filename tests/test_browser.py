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
  for (const link of index.links) pages.push(await look(link));
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
    assert index["title"].startswith("Customer-experience reports")
    assert len(reports) == len(published.reports) == 2
    for page, entry in zip(reports, published.reports):
        assert page["url"].endswith(entry["html"])
        assert page["title"].startswith(entry["label"])
        assert entry["label"] in page["h1"]
        assert any(link.endswith("/index.html") for link in page["links"])   # way back


def test_charts_are_present_and_loaded(pages):
    for page in pages[1:]:
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
    for name, height in (("index", 1100), ("quarterly-region-north", 3000)):
        png = out.parent / f"{name}.png"
        rh.chromium([f"--screenshot={png}", f"--window-size=1280,{height}",
                     f"{server}/{name}.html"], timeout=120)
        assert png.exists() and png.stat().st_size > 30_000       # a rendered page, not blank
    pdf = rh.html_to_pdf(out / "quarterly-region-north.html", out.parent / "north.pdf")
    assert pdf.read_bytes()[:4] == b"%PDF" and pdf.stat().st_size > 20_000
