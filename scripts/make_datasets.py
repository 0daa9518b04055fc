"""Regenerate the bundled datasets under datasets/.

    python scripts/make_datasets.py            # kestrel (simulated) + copies of the real datasets
    python scripts/make_datasets.py --only kestrel

kestrel is written by ``cxlab.simulate.company()`` with its defaults (deterministic: the same
bytes every time). The real datasets are copied byte for byte from ../shared/data (or
--source), each with its SOURCE.md verbatim and a COPIED.md note. Airline and ECSI data are
never copied (licence).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# dataset folder -> (source folder, files to copy, note)
REAL = {
    "iranian_churn": ("iranian_churn", ["customer_churn.csv"],
                      "`customer_churn.csv` copied byte for byte (all 3,150 rows)."),
    "ibm_telco_churn": ("ibm_telco_churn", ["Telco-Customer-Churn.csv"],
                        "`Telco-Customer-Churn.csv` copied byte for byte (all 7,043 rows), with the "
                        "Apache License 2.0 text as `LICENSE-Apache-2.0` (the official text, taken "
                        "from the prometheus_client wheel's licence file). Data (c) IBM, "
                        "licensed under Apache-2.0."),
    "online_retail": ("online_retail", ["online_retail_sample_300cust.csv"],
                      "Only `online_retail_sample_300cust.csv` (the 300-customer sample, 28,303 rows) "
                      "was copied; the full 541,909-row file was not (size)."),
    "cdnow": ("cdnow", ["CDNOW_sample.txt", "cdnow_customers_summary_with_transactions.csv"],
              "Only the 2,357-customer sample `CDNOW_sample.txt` (6,919 transactions) and its "
              "calibration summary `cdnow_customers_summary_with_transactions.csv` were copied; "
              "the 23,570-customer master file was not (the published BG/NBD and Gamma-Gamma "
              "results are for the sample)."),
}
NEVER = ("airline", "ecsi")
APACHE_CANDIDATES = ["prometheus_client-*.dist-info/licenses/LICENSE"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_kestrel(out: Path) -> None:
    import cxlab.simulate as sim
    company = sim.company()
    company.save(out / "kestrel")
    for name, digest in company.sha256().items():
        print(f"kestrel/{name}: {digest}")


def _apache_text() -> Path:
    import sysconfig
    site = Path(sysconfig.get_paths()["purelib"])
    for pattern in APACHE_CANDIDATES:
        for hit in sorted(site.glob(pattern)):
            text = hit.read_text(encoding="utf-8")
            if "Apache License" in text and "Version 2.0, January 2004" in text:
                return hit
    raise SystemExit("No Apache-2.0 licence text found in site-packages; install prometheus_client "
                     "or copy LICENSE-Apache-2.0 by hand.")


def copy_real(source: Path, out: Path) -> None:
    for name, (folder, files, note) in REAL.items():
        assert not any(bad in name for bad in NEVER)
        src, dst = source / folder, out / name
        dst.mkdir(parents=True, exist_ok=True)
        for f in files + ["SOURCE.md"]:
            shutil.copyfile(src / f, dst / f)
        lines = [f"# What cxlab copied from `../shared/data/{folder}/`", "", note, "",
                 "`SOURCE.md` is the source note, verbatim. Files and sha256:", ""]
        lines += [f"- `{f}`: `{_sha(dst / f)}`" for f in files]
        if name == "ibm_telco_churn":
            lic = _apache_text()
            shutil.copyfile(lic, dst / "LICENSE-Apache-2.0")
            lines += [f"- `LICENSE-Apache-2.0`: `{_sha(dst / 'LICENSE-Apache-2.0')}`"]
        (dst / "COPIED.md").write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
        print(f"{name}: copied {', '.join(files)}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["kestrel", "real"], default=None)
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "datasets")
    args = parser.parse_args(argv)
    if args.only in (None, "kestrel"):
        make_kestrel(args.out)
    if args.only in (None, "real"):
        copy_real(args.source, args.out)


if __name__ == "__main__":
    main()
