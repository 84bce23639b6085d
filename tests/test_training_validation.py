"""ParallelIncremental's scoring, validation during training and early stopping; and the
scaler-plus-model pipeline against in-memory logistic regression."""

from __future__ import annotations

from collections import Counter
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
from daskpar_testing import as_dask
from sklearn.linear_model import LogisticRegression, SGDClassifier, SGDRegressor
from sklearn.metrics import get_scorer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import daskpar as dp
from daskpar import metrics


@pytest.mark.parametrize(
    "scoring", ["accuracy", "balanced_accuracy", "f1_macro", "neg_log_loss", "roc_auc"]
)
def test_scoring_equals_sklearn_scorer(binary: tuple[np.ndarray, np.ndarray], scoring: str) -> None:
    X, y = binary
    model = dp.ParallelIncremental(
        SGDClassifier(loss="log_loss"), epochs=2, random_state=0, scoring=scoring
    ).fit(*as_dask(X, y, 1000))
    expected = get_scorer(scoring)(model.estimator_, X, y)
    assert model.score(*as_dask(X, y, 700)) == pytest.approx(expected, rel=1e-10)
    # In-memory input uses the same scorer.
    assert model.score(X, y) == pytest.approx(expected, rel=1e-10)


def test_regression_scoring(regression: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = regression
    model = dp.ParallelIncremental(
        SGDRegressor(), epochs=2, random_state=0, scoring="neg_mean_absolute_error"
    ).fit(*as_dask(X, y, 1000))
    expected = get_scorer("neg_mean_absolute_error")(model.estimator_, X, y)
    assert model.score(*as_dask(X, y, 1000)) == pytest.approx(expected, rel=1e-10)


def test_score_with_sample_weight_on_dask(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    w = np.random.default_rng(0).uniform(0, 2, len(y))
    model = dp.ParallelIncremental(SGDClassifier(), random_state=0).fit(*as_dask(X, y, 1000))
    Xd, yd = as_dask(X, y, 1000)
    ours = model.score(Xd, yd, sample_weight=da.from_array(w, chunks=(Xd.chunks[0],)))
    assert ours == pytest.approx(model.estimator_.score(X, y, sample_weight=w), rel=1e-12)


def test_unknown_scoring_is_a_clear_error(binary: tuple[np.ndarray, np.ndarray]) -> None:
    model = dp.ParallelIncremental(SGDClassifier(), scoring="jaccard")
    with pytest.raises(dp.InputError, match="scoring='jaccard' is not a scorer"):
        model.fit(*as_dask(*binary, 1000))


# --------------------------------------------------------------------------------------------
# validation_fraction


def fit_with_fraction(X: da.Array, y: da.Array, epochs: int, **kw: Any) -> dp.ParallelIncremental:
    return dp.ParallelIncremental(
        SGDClassifier(), epochs=epochs, random_state=0, validation_fraction=0.25, **kw
    ).fit(X, y)


def test_validation_fraction_scores_every_epoch_on_held_out_blocks(
    binary: tuple[np.ndarray, np.ndarray],
) -> None:
    Xd, yd = as_dask(*binary, 500)  # 12 blocks: 3 held out
    model = fit_with_fraction(Xd, yd, 3)
    assert [r["n_partitions"] for r in model.history_] == [9, 9, 9]
    assert all(r["n_samples"] == 4500 for r in model.history_)
    assert len(model.validation_blocks_) == 3
    # The score of epoch k (computed in pass k + 1) is the k-epoch model's score on the
    # held-out blocks, which it never trained on.
    held_out = model.validation_blocks_
    for k in (1, 2, 3):
        shorter = fit_with_fraction(Xd, yd, k)
        assert shorter.validation_blocks_ == held_out
        score = metrics.score(shorter.estimator_, Xd.blocks[held_out], yd.blocks[held_out])
        assert model.history_[k - 1]["validation_score"] == pytest.approx(score, rel=1e-12)
    np.testing.assert_array_equal(model.estimator_.coef_, shorter.estimator_.coef_)
    # Trained on the other blocks only: without shuffling (whose seeds depend on the block's
    # index), the same model as a plain fit on those blocks, to the rounding of the sums.
    kept = [i for i in range(12) if i not in held_out]
    unshuffled = fit_with_fraction(Xd, yd, 3, shuffle=False)
    plain = dp.ParallelIncremental(SGDClassifier(), epochs=3, shuffle=False)
    plain.fit(Xd.blocks[kept], yd.blocks[kept])
    np.testing.assert_allclose(unshuffled.estimator_.coef_, plain.estimator_.coef_, rtol=1e-10)


def read_block(block: np.ndarray, block_info: Any = None, *, reads: list[int]) -> np.ndarray:
    """An instrumented block reader: records which block was read."""
    reads.append(block_info[0]["chunk-location"][0])
    return block


def test_validation_costs_no_extra_read(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    reads: list[int] = []
    Xd = da.from_array(X, chunks=(500, -1)).map_blocks(read_block, reads=reads, dtype=X.dtype)
    yd = da.from_array(y, chunks=500)
    model = dp.ParallelIncremental(
        SGDClassifier(), epochs=3, random_state=0, validation_fraction=0.25
    )
    model.fit(Xd, yd, classes=[0, 1])
    held_out = model.validation_blocks_
    counts = Counter(reads)
    # Three epochs read every block once each; the held-out blocks are read once more to
    # score the final model.
    for block in range(12):
        assert counts[block] == 3 + (block in held_out), (block, counts)


def test_validation_fraction_errors(binary: tuple[np.ndarray, np.ndarray]) -> None:
    Xd, yd = as_dask(*binary, 6000)
    with pytest.raises(dp.InputError, match=r"1 non-empty partition.*nothing would be left"):
        fit_with_fraction(Xd, yd, 1)
    Xd, yd = as_dask(*binary, 1000)
    with pytest.raises(dp.InputError, match=r"either validation_data .* or validation_fraction"):
        dp.ParallelIncremental(SGDClassifier(), validation_fraction=0.2).fit(
            Xd, yd, validation_data=(Xd, yd)
        )
    with pytest.raises(dp.InputError, match="early_stopping=True needs validation data"):
        dp.ParallelIncremental(SGDClassifier(), early_stopping=True).fit(Xd, yd)


# --------------------------------------------------------------------------------------------
# early stopping


@pytest.mark.parametrize("how", ["validation_data", "validation_fraction"])
def test_early_stopping_keeps_the_best_epoch(
    binary: tuple[np.ndarray, np.ndarray], how: str
) -> None:
    X, y = binary
    Xd, yd = as_dask(X[:5000], y[:5000], 500)
    Xv, yv = as_dask(X[5000:], y[5000:], 500)
    kw: dict[str, Any] = {"validation_fraction": 0.2} if how == "validation_fraction" else {}
    fit_kw = {"validation_data": (Xv, yv)} if how == "validation_data" else {}
    # A tolerance no epoch can beat: the first epoch is the best, and training stops after
    # n_iter_no_change epochs without improvement.
    model = dp.ParallelIncremental(
        SGDClassifier(),
        epochs=20,
        random_state=0,
        early_stopping=True,
        n_iter_no_change=2,
        tol=1.0,
        **kw,
    ).fit(Xd, yd, **fit_kw)
    assert model.best_epoch_ == 1
    # validation_data scores each epoch at once; with validation_fraction the score of epoch
    # k arrives in pass k + 1, so one more epoch is trained before stopping.
    assert len(model.history_) == (3 if how == "validation_data" else 4)
    assert all("validation_score" in r for r in model.history_)
    one_epoch = dp.ParallelIncremental(SGDClassifier(), epochs=1, random_state=0, **kw)
    one_epoch.fit(Xd, yd, **fit_kw)
    np.testing.assert_array_equal(model.estimator_.coef_, one_epoch.estimator_.coef_)


def test_early_stopping_runs_while_improving(binary: tuple[np.ndarray, np.ndarray]) -> None:
    Xd, yd = as_dask(*binary, 500)
    model = dp.ParallelIncremental(
        SGDClassifier(),
        epochs=4,
        random_state=0,
        early_stopping=True,
        n_iter_no_change=10,
        validation_fraction=0.2,
    ).fit(Xd, yd)
    scores = [r["validation_score"] for r in model.history_]
    assert len(scores) == 4
    assert model.best_epoch_ == 1 + int(np.argmax(scores))


# --------------------------------------------------------------------------------------------
# the pipeline of the issue


def test_scaled_pipeline_matches_logistic_regression() -> None:
    """StandardScaler + 5 epochs of parallel SGD within 0.5 point of the in-memory optimum.

    Features span scales from 1e-3 to 1e3 around offsets up to 50, so unscaled SGD would not
    learn; the scaler is fitted in one pass and applied lazily inside the training tasks.
    """
    d = 20
    X, y = dp.make_classification(
        n_samples=100_000,
        n_features=d,
        n_informative=6,
        n_redundant=4,
        shift=np.linspace(-50, 50, d),
        scale=np.logspace(-3, 3, d),
        chunks=10_000,
        random_state=1,
    )
    X_train, X_test, y_train, y_test = dp.train_test_split(X, y, test_size=0.25, random_state=0)
    pipe = make_pipeline(
        dp.StandardScaler(),
        dp.ParallelIncremental(SGDClassifier(loss="log_loss"), epochs=5, random_state=0),
    ).fit(X_train, y_train)
    ours = pipe.score(X_test, y_test)

    Xtr, ytr, Xte, yte = dask.compute(X_train, y_train, X_test, y_test)
    reference = make_pipeline(StandardScaler(), LogisticRegression()).fit(Xtr, ytr)
    optimum = reference.score(Xte, yte)
    assert abs(ours - optimum) <= 0.005, (ours, optimum)


def test_validation_rows_split_from_the_same_blocks_cost_no_extra_read(
    binary: tuple[np.ndarray, np.ndarray],
) -> None:
    """validation_data from ``dp.train_test_split`` has X's row blocks: each epoch's pass reads
    a stored block once, trains on its training rows and scores the epoch's starting model on
    its validation rows; one last read scores the final model."""
    X, y = binary
    reads: list[int] = []
    Xd = da.from_array(X, chunks=(500, -1)).map_blocks(read_block, reads=reads, dtype=X.dtype)
    yd = da.from_array(y, chunks=500)
    X_train, X_val, y_train, y_val = dp.train_test_split(Xd, yd, test_size=0.2, random_state=0)
    model = dp.ParallelIncremental(SGDClassifier(), epochs=3, random_state=0)
    model.fit(X_train, y_train, classes=[0, 1], validation_data=(X_val, y_val))
    assert Counter(reads) == dict.fromkeys(range(12), 3 + 1)
    # Each epoch's score is that epoch's model scored on its own, to the bit.
    for k, record in enumerate(model.history_, start=1):
        alone = dp.ParallelIncremental(SGDClassifier(), epochs=k, random_state=0)
        alone.fit(X_train, y_train, classes=[0, 1])
        assert record["validation_score"] == alone.score(X_val, y_val)
    assert not hasattr(model, "validation_blocks_")


def test_early_stopping_on_validation_rows_from_the_same_blocks(
    binary: tuple[np.ndarray, np.ndarray],
) -> None:
    """As with validation_fraction, the score of epoch k arrives with pass k + 1."""
    X_train, X_val, y_train, y_val = dp.train_test_split(
        *as_dask(*binary, 500), test_size=0.2, random_state=0
    )
    model = dp.ParallelIncremental(
        SGDClassifier(), epochs=20, random_state=0, early_stopping=True, n_iter_no_change=2, tol=1.0
    ).fit(X_train, y_train, validation_data=(X_val, y_val))
    assert model.best_epoch_ == 1
    assert len(model.history_) == 4
    one_epoch = dp.ParallelIncremental(SGDClassifier(), epochs=1, random_state=0)
    one_epoch.fit(X_train, y_train)
    np.testing.assert_array_equal(model.estimator_.coef_, one_epoch.estimator_.coef_)
