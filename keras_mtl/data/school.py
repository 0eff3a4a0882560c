"""The School data (ILEA exam scores): 139 regression tasks, one per school."""

import numpy as np

from keras_mtl.arguments import check_float, check_int
from keras_mtl.data.mixing import stack_tasks
from keras_mtl.data.multitask_data import MultiTaskData
from keras_mtl.data.paths import dataset_dir
from keras_mtl.task import Task

NUM_TASKS = 139


def school_tasks():
    """The 139 regression `Task`s, named `school_000` … `school_138`."""
    return [Task(f"school_{t:03d}") for t in range(NUM_TASKS)]


def load_school_arrays(data_dir=None):
    """Per-school arrays `[(X_t (n_t, 28) float32, y_t (n_t,) float32), ...]`.

    `X_t` holds the 27 student/school features and a final constant column
    of ones, as in MALSAR's `school.mat`.
    """
    from scipy.io import loadmat

    mat = loadmat(str(dataset_dir("school", data_dir) / "school.mat"))
    return [
        (np.asarray(x, "float32"), np.asarray(y, "float32").reshape(-1))
        for x, y in zip(mat["X"][0], mat["Y"][0])
    ]


def task_indexed(parts, names):
    """Stacks per-task regression `(x_t, y_t)` into one `(x, y_dict, task_ids)`.

    `y_dict[name]` holds task `name`'s label on its own examples and `NaN`
    elsewhere (the missing-label convention); see `stack_tasks`.
    """
    x, y, task_ids = stack_tasks(parts, [Task(name) for name in names])
    return x.astype("float32"), y, task_ids


def task_indexed_data(train, test, tasks, return_task_ids, metadata=None):
    """A `MultiTaskData` of per-task train/test parts (legacy: the old tuples)."""
    names = [t.name for t in tasks]
    splits, task_ids, legacy = {}, {}, []
    for split, parts in (("train", train), ("test", test)):
        x, y, ids = task_indexed(parts, names)
        splits[split], task_ids[split] = (x, y), ids
        legacy.append((x, y, ids) if return_task_ids else (x, y))
    return MultiTaskData(
        tasks, splits, task_ids=task_ids, metadata=metadata, legacy=tuple(legacy)
    )


def split_per_task(arrays, train_fraction, seed):
    """Splits every task's examples at random (seeded), at least one each side."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for x, y in arrays:
        order = rng.permutation(len(y))
        cut = min(max(1, int(round(train_fraction * len(y)))), len(y) - 1)
        train.append((x[order[:cut]], y[order[:cut]]))
        test.append((x[order[cut:]], y[order[cut:]]))
    return train, test


def standardize(train, test):
    """Z-scores the non-constant feature columns with training statistics."""
    x = np.concatenate([p[0] for p in train])
    mean, std = x.mean(0), x.std(0)
    constant = std == 0
    mean[constant], std[constant] = 0.0, 1.0

    def apply(parts):
        return [(((p[0] - mean) / std).astype("float32"), p[1]) for p in parts]

    return apply(train), apply(test)


def school(
    train_fraction=0.75,
    seed=0,
    standardize_features=True,
    return_task_ids=False,
    data_dir=None,
):
    """Loads School as task-indexed data for a multi-output model.

    The split follows Argyriou, Evgeniou & Pontil (2008): for every school,
    a random `train_fraction` (75%) of its students train and the rest test;
    the literature averages 10 such random splits (`seed=0..9`). Zhang &
    Yeung (2010) and later papers also use 10%, 20%, 30% training ratios.

    Args:
        train_fraction: float in (0, 1). Share of each school's students used
            for training. Defaults to `0.75`.
        seed: int. Seed of the random split. Defaults to `0`.
        standardize_features: bool. Z-score non-constant columns with the
            training mean and std. Defaults to `True`.
        return_task_ids: bool. Also return the `(n,)` school index of every
            example. Defaults to `False`.
        data_dir: str or None. Folder holding `school.mat`.

    Returns:
        A `MultiTaskData` with `.tasks` (`school_tasks()`), splits `"train"`
        and `"test"` of `(x, y)`: `x` float32 `(n, 28)` (last column constant
        1), `y` a dict of 139 float32 `(n,)` arrays, `NaN` for other schools'
        students; `.task_ids[split]` the school of every example. Unpacking
        it as before, `(x, y), (x_test, y_test) = school()` (with
        `return_task_ids`, triples with the task ids), still works and is
        deprecated.

    Example:

    >>> data = school(seed=0)
    >>> x, y = data.arrays("train")
    >>> len(data.tasks), x.shape[1], data.task_ids["train"].shape == (len(x),)
    (139, 28, True)
    """
    check_float(train_fraction, "train_fraction", minimum=1e-9, below=1.0)
    check_int(seed, "seed", minimum=0)
    arrays = load_school_arrays(data_dir)
    train, test = split_per_task(arrays, train_fraction, seed)
    if standardize_features:
        train, test = standardize(train, test)
    return task_indexed_data(train, test, school_tasks(), return_task_ids)
