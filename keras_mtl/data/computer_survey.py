"""Computer survey (Lenk et al., 1996): one rating-regression task per respondent."""

import numpy as np

from keras_mtl.arguments import check_choice, check_int
from keras_mtl.data.paths import dataset_dir
from keras_mtl.data.school import split_per_task, task_indexed_data
from keras_mtl.task import Task

NUM_RESPONDENTS = 190
NUM_CALIBRATION = 16
SPLITS = ("holdout", "random")


def computer_survey_tasks(num_respondents=NUM_RESPONDENTS):
    """The regression `Task`s, named `respondent_000` …."""
    return [Task(f"respondent_{r:03d}") for r in range(num_respondents)]


def load_computer_survey_arrays(data_dir=None):
    """`(design (20, 14), ratings (190, 20))` as float32.

    `design` is the intercept and 13 binary ±1 attributes of the 20 computer
    profiles; `ratings[r, p]` is respondent r's likelihood of buying profile
    p (0–10).
    """
    from scipy.io import loadmat

    path = dataset_dir("computer_survey", data_dir)
    mat = loadmat(str(path / "conjointAnalysisComputerBuyers.mat"))
    return (
        np.asarray(mat["designMarix"], "float32"),
        np.asarray(mat["likeBuy"], "float32"),
    )


def computer_survey(
    split="holdout", seed=0, num_respondents=None, return_task_ids=False, data_dir=None
):
    """Loads the computer survey as task-indexed data (one task per respondent).

    Splits: `"holdout"` (default) is the survey's own design, used by
    Evgeniou & Pontil (2004) and Argyriou et al. (2008): profiles 1–16
    (the calibration design) train, profiles 17–20 (the hold-out profiles)
    test, for every respondent. `"random"` draws 16 training profiles per
    respondent at random (seeded) for repeated splits.

    Args:
        split: `"holdout"` or `"random"`. Defaults to `"holdout"`.
        seed: int. Seed of the random split (and of the respondent subset).
            Defaults to `0`.
        num_respondents: int or None. Keep this many respondents, drawn at
            random with `seed` (the papers report 180); `None` keeps all 190.
        return_task_ids: bool. Also return each example's respondent index.
        data_dir: str or None. Folder holding the `.mat` file.

    Returns:
        A `MultiTaskData`: splits `"train"` and `"test"` of `(x, y)`, `x`
        float32 `(n, 14)` (first column the intercept), `y` a dict keyed as
        `computer_survey_tasks()` with `NaN` for other respondents'
        examples, and `.task_ids`. Unpacking it as the old tuples
        (`(x, y), (x_test, y_test) = computer_survey()`) is deprecated.

    Example:

    >>> data = computer_survey()
    >>> data.arrays("train")[0].shape, data.arrays("test")[0].shape
    ((3040, 14), (760, 14))
    """
    check_choice(split, "split", SPLITS)
    check_int(seed, "seed", minimum=0)
    design, ratings = load_computer_survey_arrays(data_dir)
    rng = np.random.default_rng(seed)
    if num_respondents is not None:
        check_int(num_respondents, "num_respondents")
        if num_respondents > len(ratings):
            raise ValueError(
                f"`num_respondents` must be <= {len(ratings)}. "
                f"Received: num_respondents={num_respondents}"
            )
        ratings = ratings[np.sort(rng.choice(len(ratings), num_respondents, False))]
    arrays = [(design, row) for row in ratings]
    if split == "holdout":
        train = [(x[:NUM_CALIBRATION], y[:NUM_CALIBRATION]) for x, y in arrays]
        test = [(x[NUM_CALIBRATION:], y[NUM_CALIBRATION:]) for x, y in arrays]
    else:
        train, test = split_per_task(
            arrays, NUM_CALIBRATION / design.shape[0], int(rng.integers(2**31))
        )
    tasks = computer_survey_tasks(len(ratings))
    return task_indexed_data(train, test, tasks, return_task_ids)
