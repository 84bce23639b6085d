"""ROC and precision-recall curves through the tree equal scikit-learn's, for any partitioning.

Both curves come from the state of ``roc_auc_score`` (a :class:`ScoreHistogram` per block:
weighted label counts per distinct score), merged through the tree; only the curve reaches the
client. Past ``max_bins`` distinct scores the bins are coarser, and each point of the curve is
still exact: the counts of the samples scored at or above its threshold.
"""

from __future__ import annotations

import pickle
import re
from collections import Counter
from typing import Any

import dask.array as da
import numpy as np
import pytest
import sklearn.metrics as skm
from dask.callbacks import Callback
from dask.utils import key_split
from sklearn.exceptions import UndefinedMetricWarning

import daskpar as dp
import daskpar.metrics as dm
from daskpar.metrics._ranking import PrecisionRecallCurve, RocAuc, RocCurve
from daskpar.metrics._states import ScoreHistogram

N = 3000
#: (row chunks, split_every): even and uneven blocks, empty blocks, one block.
PARTITIONINGS: list[tuple[Any, int]] = [(1000, 2), (777, 8), ((0, 1200, 0, 1800), 2), (N, 8)]
RTOL = 1e-12
CURVES = ("roc_curve", "precision_recall_curve")

RNG = np.random.default_rng(7)
Y = RNG.integers(0, 2, N)
SCORES = Y + RNG.normal(size=N)
ZERO_SOME = np.where(RNG.random(N) < 0.2, 0.0, RNG.random(N) * 3)
WEIGHTS: dict[str, np.ndarray | None] = {
    "none": None,
    "floats with zeros": ZERO_SOME,
    "integers": RNG.integers(0, 4, N),
}
#: name -> (y_true, y_score, pos_label)
CASES: dict[str, tuple[np.ndarray, np.ndarray, Any]] = {
    "continuous": (Y, SCORES, None),
    "ties": (Y, np.round(SCORES, 1), None),
    "int-scores": (Y, np.round(SCORES * 2).astype(np.int64), None),
    "float32-scores": (Y, SCORES.astype(np.float32), None),
    "labels-minus-1-1": (2 * Y - 1, SCORES, None),
    "strings-pos-label": (np.array(["neg", "pos"])[Y], SCORES, "pos"),
    "multiclass-pos-label": (RNG.integers(0, 4, N), SCORES, 2),
}


def split(a: np.ndarray | None, rows: Any) -> da.Array | None:
    return None if a is None else da.from_array(a, chunks=(rows,))


def curve(
    name: str,
    y: np.ndarray,
    s: np.ndarray,
    w: np.ndarray | None,
    rows: Any,
    split_every: int,
    **kwargs: Any,
) -> tuple[np.ndarray, ...]:
    function = getattr(dm, name)
    result: tuple[np.ndarray, ...] = function(
        split(y, rows),
        split(s, rows),
        sample_weight=split(w, rows),
        split_every=split_every,
        **kwargs,
    )
    return result


def assert_same_curve(
    got: tuple[np.ndarray, ...], expected: tuple[np.ndarray, ...], where: str
) -> None:
    assert len(got) == len(expected) == 3, where
    for a, b in zip(got, expected, strict=True):
        assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
        assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-15, err_msg=where)


@pytest.mark.parametrize("drop_intermediate", [True, False])
@pytest.mark.parametrize("weights", list(WEIGHTS))
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", CURVES)
def test_curve_equals_sklearn(name: str, case: str, weights: str, drop_intermediate: bool) -> None:
    y, s, pos_label = CASES[case]
    w = WEIGHTS[weights]
    expected = getattr(skm, name)(
        y, s, pos_label=pos_label, sample_weight=w, drop_intermediate=drop_intermediate
    )
    for rows, split_every in PARTITIONINGS:
        got = curve(
            name,
            y,
            s,
            w,
            rows,
            split_every,
            pos_label=pos_label,
            drop_intermediate=drop_intermediate,
        )
        assert_same_curve(got, expected, f"{name} {case} {weights} {rows} {split_every}")


@pytest.mark.parametrize("name", CURVES)
def test_in_memory_input_and_signed_zeros(name: str) -> None:
    y = np.array([0, 1, 0, 1, 1, 0])
    s = np.array([-0.0, 0.0, 0.0, -0.0, 1.0, -1.0])  # -0.0 and 0.0 are one threshold
    assert_same_curve(getattr(dm, name)(y, s), getattr(skm, name)(y, s), name)
    assert_same_curve(getattr(dm, name)(y.tolist(), s.tolist()), getattr(skm, name)(y, s), name)


def test_roc_curve_area_is_roc_auc() -> None:
    """Same state, same number: the trapezoids under the curve are the AUC."""
    fpr, tpr, _ = dm.roc_curve(split(Y, 777), split(np.round(SCORES, 1), 777))
    auc = dm.roc_auc_score(split(Y, 777), split(np.round(SCORES, 1), 777))
    assert np.trapezoid(tpr, fpr) == pytest.approx(auc, rel=1e-12)


def test_zero_weights_make_no_threshold_and_leave_the_auc() -> None:
    w = ZERO_SOME
    _, _, thresholds = dm.precision_recall_curve(
        split(Y, 777), split(SCORES, 777), sample_weight=split(w, 777)
    )
    np.testing.assert_array_equal(thresholds, np.sort(SCORES[w != 0]))
    got = dm.roc_auc_score(split(Y, 777), split(SCORES, 777), sample_weight=split(w, 777))
    assert got == pytest.approx(skm.roc_auc_score(Y, SCORES, sample_weight=w), rel=RTOL)


# --------------------------------------------------------------------------------------------
# Past max_bins: fewer points, each exact, the same whatever the partitioning


def brute_force_rates(
    y: np.ndarray, s: np.ndarray, w: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates and precision of ``s >= t``, sample by sample."""
    above = s[None, :] >= thresholds[:, None]
    tp = (above * (w * (y == 1))[None, :]).sum(axis=1)
    fp = (above * (w * (y != 1))[None, :]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
    return fp / fp.max(), tp / tp.max(), precision


@pytest.mark.parametrize("score_dtype", [np.float64, np.float32, np.int64])
def test_binned_curves_have_exact_points(score_dtype: type) -> None:
    s = (SCORES * (1000 if score_dtype is np.int64 else 1)).astype(score_dtype)
    w = WEIGHTS["floats with zeros"]
    assert w is not None
    results = []
    for rows, split_every in PARTITIONINGS:
        roc = curve("roc_curve", Y, s, w, rows, split_every, max_bins=64, drop_intermediate=False)
        pr = curve("precision_recall_curve", Y, s, w, rows, split_every, max_bins=64)
        results.append((roc, pr))
    # The bins depend on the scores only: one curve whatever the partitioning.
    for roc, pr in results[1:]:
        assert_same_curve(roc, results[0][0], "roc")
        assert_same_curve(pr, results[0][1], "pr")
    (fpr, tpr, roc_thresholds), (precision, recall, pr_thresholds) = results[0]
    assert 10 < len(pr_thresholds) <= 64  # binned: far fewer than the distinct scores
    assert pr_thresholds.dtype == s.dtype
    np.testing.assert_array_equal(roc_thresholds[1:][::-1], pr_thresholds.astype(np.float64))
    # Each threshold is at or below the scores of its bin and above those of the bin below.
    kept = s[w != 0]
    counts = [int(np.sum(kept >= t)) for t in pr_thresholds]
    assert counts == sorted(counts, reverse=True)
    assert len(set(counts)) == len(counts)
    assert counts[0] == len(kept)
    # Every point is the exact rate of the samples at or above its threshold.
    fp_rate, tp_rate, exact_precision = brute_force_rates(Y, s, w, pr_thresholds)
    np.testing.assert_allclose(fpr[1:][::-1], fp_rate, rtol=1e-10)
    np.testing.assert_allclose(tpr[1:][::-1], tp_rate, rtol=1e-10)
    np.testing.assert_allclose(precision[:-1], exact_precision, rtol=1e-10)
    np.testing.assert_allclose(recall[:-1], tp_rate, rtol=1e-10)


# --------------------------------------------------------------------------------------------
# On the workers, from the bounded state of roc_auc_score


@pytest.mark.parametrize("metric", [RocCurve(max_bins=256), PrecisionRecallCurve(max_bins=256)])
def test_partition_state_is_the_bounded_auc_state(metric: Any) -> None:
    sizes = []
    for n in (500, 50_000):
        y = np.arange(n) % 2
        s = np.random.default_rng(n).normal(size=n)  # every row a distinct score
        state = metric.partition_state(y, s, None)
        auc_state = RocAuc(max_bins=256).partition_state(y, s, None)
        assert type(state) is type(auc_state) is ScoreHistogram
        assert len(state.keys) <= 256
        np.testing.assert_array_equal(state.keys, auc_state.keys)
        sizes.append(len(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)))
    # 100 times the rows, the same bytes: 256 bins of a key and two counts, and a constant.
    assert sizes[1] <= 3 * 8 * 256 + 2048
    assert sizes[1] <= sizes[0] + 256


@pytest.mark.parametrize("name", CURVES)
def test_curves_reduce_like_roc_auc(name: str) -> None:
    """One partition task per block, a tree of combines, one result: the AUC's graph shape."""
    seen: Counter[str] = Counter()

    def record(key: object, dsk: object, state: object) -> None:
        seen[key_split(key)] += 1

    y, s = split(Y, 500), split(SCORES, 500)
    metric = RocCurve if name == "roc_curve" else PrecisionRecallCurve
    with Callback(pretask=record):
        getattr(dm, name)(y, s, split_every=3)
    shape = Counter({k.replace(metric.stage, "STAGE"): v for k, v in seen.items()})
    assert any(metric.stage in k for k in seen), sorted(seen)
    seen.clear()
    with Callback(pretask=record):
        dm.roc_auc_score(y, s, split_every=3)
    assert shape == Counter({k.replace(RocAuc.stage, "STAGE"): v for k, v in seen.items()})
    # 6 blocks, fan-in 3: 6 partition tasks, 2 + 1 combines and a result.
    assert sum(v for k, v in shape.items() if "STAGE" in k) == 6 + 3 + 1


# --------------------------------------------------------------------------------------------
# Labels, warnings and errors, as scikit-learn's


@pytest.mark.parametrize("name", CURVES)
def test_labels_need_pos_label_as_sklearn(name: str) -> None:
    message = "y_true takes value in {1, 2} and pos_label is not specified"
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(skm, name)(Y + 1, SCORES)
    with pytest.raises(dp.InputError, match=re.escape(message)):
        getattr(dm, name)(split(Y + 1, 777), split(SCORES, 777))
    with pytest.raises(dp.InputError, match="'neg', 'pos'"):
        getattr(dm, name)(np.array(["neg", "pos"])[Y], SCORES)
    with pytest.raises(dp.InputError, match="multiclass format is not supported"):
        getattr(dm, name)(split(RNG.integers(0, 4, N), 777), split(SCORES, 777))
    with pytest.raises(dp.InputError, match="must be 1-D"):
        getattr(dm, name)(Y, np.ones((N, 2)))


def test_one_class_warns_as_sklearn() -> None:
    ones, zeros = np.ones(N, dtype=int), np.zeros(N, dtype=int)
    for y, message in [(ones, "No negative samples"), (zeros, "No positive samples")]:
        with pytest.warns(UndefinedMetricWarning, match=message):
            expected = skm.roc_curve(y, SCORES)
        with pytest.warns(UndefinedMetricWarning, match=message):
            got = dm.roc_curve(split(y, 777), split(SCORES, 777))
        assert_same_curve(got, expected, message)
    message = "No positive class found in y_true"
    with pytest.warns(UserWarning, match=message):
        expected = skm.precision_recall_curve(zeros, SCORES)
    with pytest.warns(UserWarning, match=message):
        got = dm.precision_recall_curve(split(zeros, 777), split(SCORES, 777))
    assert_same_curve(got, expected, message)


@pytest.mark.parametrize("name", CURVES)
def test_bad_values_are_refused(name: str) -> None:
    with pytest.raises(dp.PartitionError, match="y_score contains NaN"):
        getattr(dm, name)(split(Y, 777), split(np.where(Y == 1, np.nan, SCORES), 777))
    with pytest.raises(dp.InputError, match="every sample weight is zero"):
        getattr(dm, name)(Y, SCORES, sample_weight=np.zeros(N))
    with pytest.raises(ValueError, match="max_bins"):
        getattr(dm, name)(Y, SCORES, max_bins=1)
