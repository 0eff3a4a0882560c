"""Where the bundled datasets live."""

import os
from pathlib import Path

_PACKAGE_DATA = Path(__file__).resolve().parent / "bundled"
_REPOSITORY_DATA = Path(__file__).resolve().parents[2] / "datasets"


def dataset_dir(name, data_dir=None):
    """The folder holding dataset `name`.

    Looked up in order: `data_dir` (if given), `$KERAS_MTL_DATA/<name>`, the
    data shipped in the package (`keras_mtl/data/bundled/<name>`, the demo's
    data) and the repository's `datasets/<name>` (a source checkout).

    Raises:
        FileNotFoundError: naming every place that was tried.
    """
    candidates = []
    if data_dir is not None:
        candidates.append(Path(data_dir))
    if os.environ.get("KERAS_MTL_DATA"):
        candidates.append(Path(os.environ["KERAS_MTL_DATA"]) / name)
    candidates += [_PACKAGE_DATA / name, _REPOSITORY_DATA / name]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"Dataset {name!r} not found (tried {tried}). Pass `data_dir`, set "
        "KERAS_MTL_DATA, or run from a source checkout of keras_mtl."
    )
