"""Office-Caltech-10: four image domains as four 10-class tasks (features)."""

import numpy as np
import scipy.io

from keras_mtl.arguments import check_choice, check_float, check_int
from keras_mtl.data.mixing import stack_tasks
from keras_mtl.data.multitask_data import MultiTaskData
from keras_mtl.data.paths import dataset_dir
from keras_mtl.task import Task

DOMAINS = ("amazon", "caltech", "dslr", "webcam")
FEATURES = ("surf", "googlenet")
NUM_CLASSES = 10
_FILES = {
    "surf": {
        "amazon": "surf/amazon_SURF_L10.mat",
        "caltech": "surf/Caltech10_SURF_L10.mat",
        "dslr": "surf/dslr_SURF_L10.mat",
        "webcam": "surf/webcam_SURF_L10.mat",
    },
    "googlenet": {
        "amazon": "googlenet1024/amazon.mat",
        "dslr": "googlenet1024/dslr.mat",
        "webcam": "googlenet1024/webcam.mat",
    },
}


def available_domains(features="surf"):
    """The domains that have `features` (GoogLeNet features lack Caltech)."""
    check_choice(features, "features", FEATURES)
    return tuple(d for d in DOMAINS if d in _FILES[features])


def office_caltech_tasks(domains=None, features="surf"):
    """One 10-class `Task` per domain, named after it."""
    return [Task(d, num_classes=NUM_CLASSES) for d in _domains(domains, features)]


def load_domain(domain, features="surf", data_dir=None):
    """Raw features `(n, F)` float32 and labels `(n,)` int32 in 0..9 of one domain."""
    check_choice(domain, "domain", DOMAINS)
    if domain not in _FILES[check_choice(features, "features", FEATURES)]:
        raise ValueError(
            f"features={features!r} are not available for domain {domain!r}; "
            f"available domains: {available_domains(features)}"
        )
    path = dataset_dir("office_caltech10", data_dir) / _FILES[features][domain]
    mat = scipy.io.loadmat(path)
    x = np.asarray(mat["fts"], dtype="float32")
    y = np.asarray(mat["labels"]).reshape(-1).astype("int32") - 1
    if x.shape[0] != y.shape[0] or y.min() < 0 or y.max() >= NUM_CLASSES:
        raise ValueError(f"Unexpected contents in {path}")
    return x, y


def office_caltech(
    labelled_fraction=0.1,
    seed=0,
    features="surf",
    domains=None,
    standardize=True,
    data_dir=None,
):
    """Office-Caltech-10 as a multi-task problem, one task per domain.

    The paper's protocol (Long et al., NIPS 2017): in each domain (task) a
    random `labelled_fraction` of the examples (at least one) is the training
    set and the rest the test set, drawn with `seed`. Examples of all domains
    are concatenated; each example carries its label under its own domain's
    key and `-1` (missing) under the others, so the masked losses and
    metrics of `keras_mtl` score every task on its own examples only.

    SURF features (800-bin bag-of-words counts, all four domains) are
    L1-normalised per example; GoogLeNet features (1024-d, amazon, dslr and
    webcam only) are used as given. With `standardize`, every feature is
    then z-scored with the mean and standard deviation of the training split.

    Args:
        labelled_fraction: float in (0, 1). Fraction of each domain used for
            training (the paper uses 0.05, 0.1 and 0.2). Defaults to `0.1`.
        seed: int. Seed of the split. Defaults to `0`.
        features: `"surf"` or `"googlenet"`. Defaults to `"surf"`.
        domains: list of domain names (`"amazon"`, `"caltech"`, `"dslr"`,
            `"webcam"`) or None for all that have `features`.
        standardize: bool. Z-score with training statistics. Defaults to
            `True`.
        data_dir: str or None. Folder holding the dataset (see
            `keras_mtl.data.paths.dataset_dir`).

    Returns:
        A `MultiTaskData`: `.tasks` (`office_caltech_tasks(domains,
        features)`), splits `"train"` and `"test"` of float32 features
        `(n, F)` and label dicts keyed by domain (int32, `-1` for other
        domains' examples), `.task_ids`. Unpacking it as the old
        `(x, y), (x_test, y_test)` still works and is deprecated.

    Example:

    >>> data = office_caltech(labelled_fraction=0.05, seed=1)
    >>> model = keras_mtl.models.mrn(data.tasks, input_shape=(800,))
    >>> history = model.fit(*data.arrays("train"), epochs=2, verbose=0)
    """
    labelled_fraction = check_float(labelled_fraction, "labelled_fraction", below=1.0)
    if labelled_fraction <= 0:
        raise ValueError(
            "`labelled_fraction` must be in (0, 1). "
            f"Received: labelled_fraction={labelled_fraction}"
        )
    seed = check_int(seed, "seed", minimum=0)
    domains = _domains(domains, features)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for t, domain in enumerate(domains):
        x, y = load_domain(domain, features, data_dir)
        if features == "surf":
            x = x / np.maximum(x.sum(axis=1, keepdims=True), 1.0)
        order = rng.permutation(len(y))
        cut = max(1, int(round(labelled_fraction * len(y))))
        train.append((x[order[:cut]], y[order[:cut]], t))
        test.append((x[order[cut:]], y[order[cut:]], t))
    tasks = office_caltech_tasks(domains, features)
    x_train, y_train, ids_train = stack_tasks([p[:2] for p in train], tasks)
    x_test, y_test, ids_test = stack_tasks([p[:2] for p in test], tasks)
    if standardize:
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        std = np.where(std > 1e-6, std, 1.0)
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    train = (x_train.astype("float32"), y_train)
    test = (x_test.astype("float32"), y_test)
    return MultiTaskData(
        tasks,
        {"train": train, "test": test},
        task_ids={"train": ids_train, "test": ids_test},
        metadata={"features": features, "domains": list(domains)},
        legacy=(train, test),
    )


def _domains(domains, features):
    available = available_domains(features)
    if domains is None:
        return available
    if isinstance(domains, str):
        domains = [domains]
    domains = list(domains)
    if not domains or len(set(domains)) != len(domains):
        raise ValueError(
            f"`domains` must be distinct domain names. Received: {domains}"
        )
    for domain in domains:
        if domain not in available:
            raise ValueError(
                f"`domains` must be among {available} for features={features!r}. "
                f"Received: {domain!r}"
            )
    return tuple(domains)
