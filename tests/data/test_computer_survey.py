import numpy as np
import pytest

from keras_mtl.data.computer_survey import computer_survey, load_computer_survey_arrays


def test_holdout_split():
    (x, y, ids), (xt, yt, idst) = computer_survey(return_task_ids=True)
    design, ratings = load_computer_survey_arrays()
    assert x.shape == (190 * 16, 14) and xt.shape == (190 * 4, 14)
    assert len(y) == 190
    assert np.array_equal(x[:16], design[:16]) and np.array_equal(xt[:4], design[16:])
    assert np.array_equal(y["respondent_005"][ids == 5], ratings[5, :16])
    assert np.array_equal(yt["respondent_005"][idst == 5], ratings[5, 16:])
    assert np.isnan(y["respondent_005"][ids != 5]).all()


def test_random_split_and_subset_are_seeded():
    (a, _), _ = computer_survey(split="random", seed=4, num_respondents=180)
    (b, _), _ = computer_survey(split="random", seed=4, num_respondents=180)
    (c, _), _ = computer_survey(split="random", seed=5, num_respondents=180)
    assert a.shape == (180 * 16, 14)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        computer_survey(split="kfold")
    with pytest.raises(ValueError, match="num_respondents"):
        computer_survey(num_respondents=500)
