"""Where the kit's bundled files are: datasets, report templates and report assets.

In a source checkout (editable install) they are edited in place, in the repository's
top-level ``datasets/`` and ``notebooks/templates/`` folders. An installed wheel carries
copies of the same folders inside the package, under ``cxlab/_bundled/`` (mapped there by
the build configuration, see ``pyproject.toml``), found with :mod:`importlib.resources`.
``CXLAB_DATASETS`` overrides the datasets folder.

Bottom layer: standard library only; every other module asks here.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _bundled(*parts: str) -> Path | None:
    """The folder ``cxlab/_bundled/<parts>`` inside an installed package, if there is one."""
    try:
        root = resources.files("cxlab").joinpath("_bundled", *parts)
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - cxlab not importable as a package
        return None
    path = Path(str(root))
    return path if path.is_dir() else None


def datasets_root() -> Path:
    """Folder holding the bundled datasets (one sub-folder a dataset).

    Returns
    -------
    pathlib.Path
        ``$CXLAB_DATASETS`` if set; else ``cxlab/_bundled/datasets`` in an installed wheel;
        else the checkout's ``datasets/``.

    Examples
    --------
    >>> from cxlab import resources
    >>> (resources.datasets_root() / "kestrel" / "SOURCE.md").is_file()
    True
    """
    env = os.environ.get("CXLAB_DATASETS")
    if env:
        return Path(env)
    return _bundled("datasets") or _CHECKOUT / "datasets"


def templates_root() -> Path:
    """Folder holding the parameterised report notebooks (``quarterly_report.ipynb``, ...).

    Returns
    -------
    pathlib.Path
        ``cxlab/_bundled/templates`` in an installed wheel, else the checkout's
        ``notebooks/templates/``.
    """
    return _bundled("templates") or _CHECKOUT / "notebooks" / "templates"


def template(name: str) -> Path:
    """Path of a bundled template notebook.

    Parameters
    ----------
    name : str
        File name, e.g. ``"quarterly_report.ipynb"``.

    Returns
    -------
    pathlib.Path
        ``templates_root() / name`` (the file may not exist: callers check and explain).

    Examples
    --------
    >>> from cxlab import resources
    >>> resources.template("quarterly_report.ipynb").is_file()
    True
    """
    return templates_root() / name
