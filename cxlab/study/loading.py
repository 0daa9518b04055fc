"""Reading the study's data: the survey export and the customer-outcome file the schema names.

Files go through :func:`cxlab.io.read_survey` (CSV, Excel, SPSS, Stata, Parquet), only the
study's columns, in chunks; bundled datasets by name. Missing codes are *not* applied here but
in validation and preparation, where they are counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .. import io as cxio
from ..checks import CXDataError
from .schema import StudySchema


def _resolve(schema: StudySchema, p) -> Path:
    path = Path(str(p)).expanduser()
    return path if path.is_absolute() else (schema.base_dir / path)


#: Survey files are read (and cleaned) this many rows at a time, only the study's columns.
READ_CHUNK = 200_000


def _load_source(schema: StudySchema, spec, read: dict, what: str, default_table: str,
                 columns: Sequence[str] | None = None):
    if isinstance(spec, pd.DataFrame):
        return spec
    if spec is None:
        raise CXDataError(f"The study configuration names no {what} (data: path/to/file or "
                          "data: {dataset: kestrel, table: survey}).")
    if isinstance(spec, (str, Path)):
        spec = {"path": spec}
    if not isinstance(spec, Mapping):
        raise CXDataError(f"{what}: give a file path or {{dataset: name, table: ...}}.")
    if spec.get("dataset"):
        from .. import datasets
        obj = datasets.load(spec["dataset"])
        if isinstance(obj, pd.DataFrame):
            return obj
        table = spec.get("table") or default_table
        if not hasattr(obj, table):
            raise CXDataError(f"Dataset {spec['dataset']!r} has no table {table!r}.")
        return getattr(obj, table)
    options = {**read, **{k: v for k, v in spec.items() if k != "path"}}
    path = _resolve(schema, spec["path"])
    if columns is not None and "usecols" not in options:
        present = set(cxio.columns_of(path, **options))
        # absent columns are left to validate(), which names them and suggests close names
        options["usecols"] = [c for c in dict.fromkeys(columns) if c in present] or None
    options.setdefault("chunksize", READ_CHUNK)
    return cxio.read_survey(path, **options)


def load_data(schema: StudySchema) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Read the survey and (if configured) the customer-outcome file. Missing codes are *not*
    applied here but in :func:`validate` / :func:`prepare`, where they are counted."""
    data = _load_source(schema, schema.data, schema.read, "survey data", "survey",
                        columns=schema.columns_needed())
    labelled = [c for c in schema.segments if c in cxio.value_labels(data)]
    if labelled:                      # SPSS/Stata segment codes shown with their labels
        data = cxio.apply_value_labels(data, labelled)
    customers = None
    if schema.customers is not None:
        customers = _load_customers_only(schema)[1]
    return data, customers


def _load_customers_only(schema: StudySchema):
    c = schema.customers
    spec = {"dataset": c.dataset, "table": c.table} if c.dataset else {"path": c.path}
    cols = [x for x in (c.id, c.churned, c.tenure, c.end_date, c.revenue) if x]
    return None, _load_source(schema, spec, c.read, "customer file", "customers", columns=cols)


def source_label(schema: StudySchema) -> str:
    """Where the survey comes from, for titles: 'bundled dataset kestrel (survey)' or a file."""
    spec = schema.data
    if isinstance(spec, Mapping) and spec.get("dataset"):
        return f"bundled dataset {spec['dataset']}" + (f" ({spec['table']})" if spec.get("table")
                                                        else "")
    if isinstance(spec, Mapping):
        spec = spec.get("path")
    return Path(str(spec)).name


def data_file(schema: StudySchema) -> Path | None:
    """The survey file the schema names (None for a bundled dataset)."""
    spec = schema.data
    if isinstance(spec, Mapping):
        spec = spec.get("path")
    return _resolve(schema, spec) if spec else None
