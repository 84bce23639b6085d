"""Checkpoints: written after every epoch, resumed after an interruption to the same result,
refused when made by another run, and read without unpickling anything."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import dask
import dask.array as da
import numpy as np
import pytest
from daskpar_testing import as_dask, interrupted_then_resumed, no_task_runs, passes
from sklearn.base import clone
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline

import daskpar as dp
import daskpar._incremental as incremental
import daskpar._search._passes as search_passes
from daskpar import CheckpointError
from daskpar._checkpoint import FILE_NAME, discard


@pytest.fixture(scope="module")
def data() -> tuple[da.Array, da.Array]:
    return dp.make_classification(n_samples=8000, n_features=10, chunks=1000, random_state=0)


FITS = {
    "plain": ({}, False),
    "early-stopping": (
        {"validation_fraction": 0.25, "early_stopping": True, "n_iter_no_change": 2},
        False,
    ),
    "validation-data": ({}, True),
}


@pytest.mark.parametrize("case", list(FITS))
def test_fit_resumes_to_the_same_model(
    data: tuple[da.Array, da.Array], tmp_path: Path, case: str
) -> None:
    X, y = data
    params, aligned = FITS[case]
    X_train, X_val, y_train, y_val = dp.train_test_split(X, y, test_size=0.25, random_state=0)
    fit_kwargs = {"validation_data": (X_val, y_val)} if aligned else {}

    def make(folder: Path | None) -> dp.ParallelIncremental:
        return dp.ParallelIncremental(
            SGDClassifier(random_state=0), epochs=5, random_state=0, checkpoint=folder, **params
        )

    def fit(model: dp.ParallelIncremental) -> dp.ParallelIncremental:
        return model.fit(X_train, y_train, **fit_kwargs)

    whole = fit(make(None))
    resumed, rerun = interrupted_then_resumed(make, fit, tmp_path / "ck", at=3)
    # Passes 1 and 2 were written; the rerun runs the rest only.
    assert rerun == len(whole.history_) - 2
    np.testing.assert_array_equal(resumed.estimator_.coef_, whole.estimator_.coef_)
    np.testing.assert_array_equal(resumed.estimator_.intercept_, whole.estimator_.intercept_)
    assert resumed.estimator_.t_ == whole.estimator_.t_
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in whole.history_]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in resumed.history_] == strip
    assert getattr(resumed, "best_epoch_", None) == getattr(whole, "best_epoch_", None)
    # A finished run leaves its checkpoint: fitting again trains nothing, same model.
    with passes(incremental) as count:
        again = fit(make(tmp_path / "ck"))
    assert count[0] == 0
    np.testing.assert_array_equal(again.estimator_.coef_, whole.estimator_.coef_)


def test_fit_resumes_with_the_seed_of_the_interrupted_run(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    """random_state=None draws a seed once: the resumed run keeps it."""
    X, y = data

    def make(folder: Path | None) -> dp.ParallelIncremental:
        return dp.ParallelIncremental(SGDClassifier(), epochs=4, checkpoint=folder)

    resumed, rerun = interrupted_then_resumed(make, lambda m: m.fit(X, y), tmp_path, at=3)
    assert rerun == 2
    assert [r["epoch"] for r in resumed.history_] == [1, 2, 3, 4]


@pytest.mark.parametrize("search_class", [dp.GridSearchCV, dp.HalvingSearchCV])
def test_search_resumes_to_the_same_results(
    data: tuple[da.Array, da.Array], tmp_path: Path, search_class: Any
) -> None:
    X, y = data
    pipe = make_pipeline(
        dp.StandardScaler(),
        dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=3, random_state=0),
    )
    grid = {"parallelincremental__estimator__alpha": [1e-4, 1e-3, 1e-2, 1e-1]}
    extra = {"factor": 2} if search_class is dp.HalvingSearchCV else {}

    def make(folder: Path | None) -> Any:
        return search_class(pipe, grid, cv=2, checkpoint=folder, **extra)

    def fit(search: Any) -> Any:
        return search.fit(X, y)

    whole = fit(make(None))
    resumed, rerun = interrupted_then_resumed(make, fit, tmp_path / "ck", at=3)
    assert rerun == len(whole.history_) - 2
    for key, value in whole.cv_results_.items():
        if "time" in key:
            continue
        if key == "params":
            assert resumed.cv_results_[key] == value
        else:
            np.testing.assert_array_equal(np.asarray(resumed.cv_results_[key]), np.asarray(value))
    assert resumed.best_params_ == whole.best_params_
    np.testing.assert_array_equal(
        resumed.best_estimator_[-1].estimator_.coef_, whole.best_estimator_[-1].estimator_.coef_
    )
    # The refit has its own checkpoint, under the search's.
    assert (tmp_path / "ck" / "refit" / FILE_NAME).exists()
    # A finished search's checkpoint returns the same results without a pass (halving had
    # stopped with one candidate left: it scores nothing more).
    with passes(search_passes) as count:
        again = fit(make(tmp_path / "ck"))
    assert count[0] == 0
    np.testing.assert_array_equal(
        again.cv_results_["mean_test_score"], whole.cv_results_["mean_test_score"]
    )
    assert again.best_index_ == whole.best_index_
    # Starting over deletes the checkpoints, the refit's included, and nothing else.
    discard(tmp_path / "ck")
    assert list((tmp_path / "ck").iterdir()) == []


def test_checkpoint_is_written_atomically(data: tuple[da.Array, da.Array], tmp_path: Path) -> None:
    """A write that fails half-way (the client killed while writing) leaves the previous
    checkpoint whole, and no temporary file behind."""
    X, y = data
    folder = tmp_path / "ck"
    dp.ParallelIncremental(SGDClassifier(), epochs=1, random_state=0, checkpoint=folder).fit(X, y)
    before = (folder / FILE_NAME).read_bytes()
    with (
        mock.patch("daskpar.persist.os.replace", side_effect=OSError("disk full")),
        pytest.raises(OSError, match="disk full"),
    ):
        dp.ParallelIncremental(
            SGDClassifier(), epochs=1, random_state=1, checkpoint=tmp_path / "o"
        ).fit(X, y)
    assert sorted(os.listdir(tmp_path / "o")) == []
    assert (folder / FILE_NAME).read_bytes() == before


def test_checkpoint_of_another_run_is_refused_before_any_task(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    X, y = data
    folder = tmp_path / "ck"

    def model(**params: Any) -> dp.ParallelIncremental:
        return dp.ParallelIncremental(
            SGDClassifier(**params.pop("sgd", {})),
            epochs=params.pop("epochs", 2),
            random_state=0,
            checkpoint=folder,
        )

    model().fit(X, y)
    cases = {
        "other parameters": (lambda: model(epochs=3).fit(X, y), r"differ in \['epochs'\]"),
        "other inner parameters": (
            lambda: model(sgd={"alpha": 0.1}).fit(X, y),
            r"differ in \['estimator'\]",
        ),
        "other chunks": (lambda: model().fit(X.rechunk(2000), y.rechunk(2000)), "row chunks"),
        "other shape": (lambda: model().fit(X[:4000], y[:4000]), "its shape differ"),
        "another estimator": (
            lambda: dp.GridSearchCV(
                dp.ParallelIncremental(SGDClassifier()), {"epochs": [1]}, checkpoint=folder
            ).fit(X, y),
            "made by ParallelIncremental, not GridSearchCV",
        ),
    }
    for what, (call, message) in cases.items():
        with no_task_runs(), pytest.raises(CheckpointError, match=message) as info:
            call()
        assert "Delete" in str(info.value), what
    with no_task_runs(), pytest.raises(CheckpointError, match="other classes"):
        model().fit(X, y, classes=[0, 1, 2])
    # Other content of the same shape, chunks and dtypes: the data are known by the blocks'
    # digests, not by dask names (which need not follow the content), so this takes one
    # read of the blocks (no training) and names the first block found changed.
    with pytest.raises(CheckpointError, match=r"partition \d \(rows \d+ to \d+\) has other X "):
        model().fit(X + 1, y)
    # verbose and retries do not change what is computed: the same run.
    dp.ParallelIncremental(
        SGDClassifier(), epochs=2, random_state=0, checkpoint=folder, verbose=0, retries=None
    ).fit(X, y, classes=[0, 1])


def test_folder_that_is_not_a_checkpoint_is_never_written(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    X, y = data
    (tmp_path / "notes.txt").write_text("mine")
    with no_task_runs(), pytest.raises(CheckpointError, match="holds files but no daskpar"):
        dp.ParallelIncremental(SGDClassifier(), checkpoint=tmp_path).fit(X, y)
    assert os.listdir(tmp_path) == ["notes.txt"]
    with pytest.raises(CheckpointError, match="is a file"):
        dp.ParallelIncremental(SGDClassifier(), checkpoint=tmp_path / "notes.txt").fit(X, y)


def with_payload(payload: bytes) -> bytes:
    """An unsigned daskpar model file holding ``payload`` (skops bytes of any types): a
    file as another tool, or an attacker without the key, could write it."""
    import hashlib
    import json
    import struct

    from daskpar import persist

    data, _ = persist.dumps({"meta": "{}"})
    prefix = struct.Struct(">8sHI")
    magic, version, length = prefix.unpack_from(data)
    header = json.loads(data[prefix.size : prefix.size + length])
    header["payload"] = {"length": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return prefix.pack(magic, version, len(text)) + text + payload


def test_checkpoint_never_unpickles(data: tuple[da.Array, da.Array], tmp_path: Path) -> None:
    """A pickle put in place of a checkpoint (by another tool, or an attacker) is refused,
    and the object in it is never built."""
    X, y = data
    built: list[int] = []

    class Trap:
        def __reduce__(self) -> Any:
            return (built.append, (1,))

    (tmp_path / FILE_NAME).write_bytes(pickle.dumps(Trap()))
    with pytest.raises(CheckpointError, match="cannot be read"):
        dp.ParallelIncremental(SGDClassifier(), checkpoint=tmp_path).fit(X, y)
    assert built == []
    # A skops file holding a type daskpar does not trust is refused as a model file is.
    from fractions import Fraction

    import skops.io

    (tmp_path / FILE_NAME).write_bytes(
        with_payload(skops.io.dumps({"meta": "{}", "objects": Fraction(1, 3)}))
    )
    with pytest.raises(CheckpointError, match="does not trust"):
        dp.ParallelIncremental(SGDClassifier(), checkpoint=tmp_path).fit(X, y)


def test_checkpoint_of_string_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    y = np.array(["cat", "dog", "eel"], dtype=object)[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0)]
    Xd, yd = as_dask(X, y, 500)

    def make(folder: Path | None) -> dp.ParallelIncremental:
        return dp.ParallelIncremental(
            SGDClassifier(random_state=0), epochs=3, random_state=0, checkpoint=folder
        )

    whole = make(None).fit(Xd, yd)
    resumed, _ = interrupted_then_resumed(make, lambda m: m.fit(Xd, yd), tmp_path, at=2)
    np.testing.assert_array_equal(resumed.classes_, whole.classes_)
    np.testing.assert_array_equal(resumed.estimator_.coef_, whole.estimator_.coef_)
    assert resumed.predict(X[:5]).tolist() == whole.predict(X[:5]).tolist()


def test_a_model_with_a_checkpoint_path_saves_and_loads(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    """checkpoint= may be a Path; model files keep it."""
    X, y = data
    model = dp.ParallelIncremental(SGDClassifier(), checkpoint=tmp_path / "ck").fit(X, y)
    dp.save(model, tmp_path / "model.dp", key=None)
    loaded = dp.load(tmp_path / "model.dp", allow_unsigned=True)
    assert loaded.checkpoint == tmp_path / "ck"
    np.testing.assert_array_equal(loaded.estimator_.coef_, model.estimator_.coef_)


def test_the_refits_checkpoint_stays_with_the_search(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    """The best estimator, cloned and fitted on other data, does not meet the refit's
    checkpoint."""
    X, y = data
    search = dp.GridSearchCV(
        dp.ParallelIncremental(SGDClassifier(random_state=0), random_state=0),
        {"estimator__alpha": [1e-4, 1e-3]},
        cv=2,
        checkpoint=tmp_path / "ck",
    ).fit(X, y)
    assert (tmp_path / "ck" / "refit" / FILE_NAME).exists()
    assert search.best_estimator_.checkpoint is None
    clone(search.best_estimator_).fit(X[:4000], y[:4000])


def test_randomized_search_without_a_seed_is_not_resumed_with_other_candidates(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    """random_state=None samples other candidates in every run: the checkpoint says so, rather
    than mixing two searches' results."""
    from scipy.stats import loguniform

    X, y = data

    def make(folder: Path | None, seed: int | None = None) -> dp.RandomizedSearchCV:
        return dp.RandomizedSearchCV(
            dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=2, random_state=0),
            {"estimator__alpha": loguniform(1e-5, 1e-1)},
            n_iter=3,
            cv=2,
            random_state=seed,
            checkpoint=folder,
        )

    with passes(search_passes, interrupt_at=2), pytest.raises(KeyboardInterrupt):
        make(tmp_path).fit(X, y)
    with no_task_runs(), pytest.raises(CheckpointError, match="other candidates"):
        make(tmp_path).fit(X, y)
    # With a seed, the same candidates: resumed to the same results.
    whole = make(None, seed=0).fit(X, y)
    resumed, _ = interrupted_then_resumed(
        lambda folder: make(folder, seed=0), lambda s: s.fit(X, y), tmp_path / "seeded", at=2
    )
    assert resumed.cv_results_["params"] == whole.cv_results_["params"]
    np.testing.assert_array_equal(
        resumed.cv_results_["mean_test_score"], whole.cv_results_["mean_test_score"]
    )


def test_search_checkpoint_of_other_data_or_classes_is_refused(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    X, y = data

    def search() -> dp.GridSearchCV:
        return dp.GridSearchCV(
            dp.ParallelIncremental(SGDClassifier(random_state=0), random_state=0),
            {"estimator__alpha": [1e-4, 1e-3]},
            cv=2,
            refit=False,
            checkpoint=tmp_path,
        )

    search().fit(X, y)
    with no_task_runs(), pytest.raises(CheckpointError, match="other classes"):
        search().fit(X, y, classes=[0, 1, 2])
    # Other content is found by the blocks' digests (not dask names): one read, no training.
    with passes(search_passes) as count, pytest.raises(CheckpointError, match="has other X"):
        search().fit(X * 2, y)
    assert count[0] == 0
    search().fit(X, y, classes=[0, 1])  # the same classes as found: the same run


def test_a_write_cut_short_leaves_a_folder_that_resumes(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    """kill -9 during the first write leaves only a temporary file: it is daskpar's, so the
    rerun deletes it and starts; a folder with other files is still refused by discard."""
    X, y = data
    (tmp_path / f".{FILE_NAME}.tmp-1234abcd").write_bytes(b"half a checkpoint")
    dp.ParallelIncremental(SGDClassifier(), random_state=0, checkpoint=tmp_path).fit(X, y)
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME]
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="nor delete them"):
        discard(tmp_path)
    assert (tmp_path / "notes.txt").exists()
    assert (tmp_path / FILE_NAME).exists()


def test_explicit_folds_resume_and_other_folds_are_refused(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    """cv= as a generator of (train, test) blocks: the same folds resume (a generator's repr
    is new in every process); other folds are refused."""
    X, y = data

    def folds(test: tuple[int, ...]) -> Iterator[tuple[list[int], list[int]]]:
        yield [b for b in range(8) if b not in test], list(test)

    def make(folder: Path | None, test: tuple[int, ...] = (0, 1)) -> dp.GridSearchCV:
        return dp.GridSearchCV(
            dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=2, random_state=0),
            {"estimator__alpha": [1e-4, 1e-3]},
            cv=folds(test),
            refit=False,
            checkpoint=folder,
        )

    whole = make(None).fit(X, y)
    resumed, _ = interrupted_then_resumed(make, lambda s: s.fit(X, y), tmp_path, at=2)
    np.testing.assert_array_equal(
        resumed.cv_results_["mean_test_score"], whole.cv_results_["mean_test_score"]
    )
    with no_task_runs(), pytest.raises(CheckpointError, match="other folds"):
        make(tmp_path, test=(2, 3)).fit(X, y)


def test_checkpoint_of_another_fan_in_or_other_versions_is_refused(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    X, y = data

    def model() -> dp.ParallelIncremental:
        return dp.ParallelIncremental(SGDClassifier(), random_state=0, checkpoint=tmp_path)

    model().fit(X, y)
    with dask.config.set(split_every=4), pytest.raises(CheckpointError, match="split_every=8"):
        model().fit(X, y)
    with (
        mock.patch("importlib.metadata.version", return_value="0.0.1"),
        pytest.raises(CheckpointError, match="other versions may compute other bits"),
    ):
        model().fit(X, y)


def test_a_store_rewritten_in_place_is_other_data(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    """zarr writes chunks in place: the store's folder keeps its inode and mtime, its chunk
    files do not. The blocks' digests find it (one read, no training): every block changed,
    and the first one checked is named. (tests/test_checkpoint_data.py has the same for
    other sources, and stores whose dask names do not change.)"""
    import zarr

    X, y = data
    dp.write_zarr(tmp_path / "d.zarr", X, y)
    folder = tmp_path / "ck"
    dp.ParallelIncremental(SGDClassifier(), random_state=0, checkpoint=folder).fit(
        *dp.read_zarr(tmp_path / "d.zarr")
    )
    stored = zarr.open_array(str(tmp_path / "d.zarr"), path="X", mode="r+")
    stored[:] = -stored[:]
    with (
        passes(incremental) as count,
        pytest.raises(CheckpointError, match=r"other data: partition \d \(rows"),
    ):
        dp.ParallelIncremental(SGDClassifier(), random_state=0, checkpoint=folder).fit(
            *dp.read_zarr(tmp_path / "d.zarr")
        )
    assert count[0] == 0


# --------------------------------------------------------------------------------------------
# Authentication: with the model key set, a checkpoint is signed and checked on resume.

KEY = "checkpoint-test-key-0123456789abcdef"


def poisoned(path: Path, *, key: str | None) -> None:
    """Negate the coefficients in the checkpoint at ``path`` (read with :data:`KEY`), as an
    attacker who can write the folder would, and write it back signed with ``key`` (None:
    unsigned, since the attacker does not have the key)."""
    from daskpar import persist

    saved = persist.loads(path.read_bytes(), name="test", key=KEY)
    model = saved["objects"]["model"]
    model.coef_ = -model.coef_
    with mock.patch.dict(os.environ, {}, clear=False):
        os.environ.pop("DASKPAR_MODEL_KEY", None)
        data, signed = persist.dumps(saved, key=key)
    assert signed == (key is not None)
    path.write_bytes(data)


@pytest.mark.parametrize("attack", ["unsigned", "another-key", "flipped-byte"])
def test_an_edited_checkpoint_is_refused_when_a_key_is_set(
    data: tuple[da.Array, da.Array],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    attack: str,
) -> None:
    from daskpar import persist

    X, y = data
    monkeypatch.setenv("DASKPAR_MODEL_KEY", KEY)
    make = lambda: dp.ParallelIncremental(  # noqa: E731
        SGDClassifier(random_state=0), epochs=2, checkpoint=tmp_path, random_state=0
    )
    model = make().fit(X, y)
    path = tmp_path / FILE_NAME
    assert persist.describe(path)["signed"]
    if attack == "flipped-byte":
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 1
        path.write_bytes(bytes(raw))
    else:
        poisoned(path, key=None if attack == "unsigned" else "another-key-0123456789abcdef")
    with no_task_runs(), pytest.raises(CheckpointError) as error:
        make().fit(X, y)
    assert repr(os.fspath(path)) in str(error.value)
    assert KEY not in str(error.value)
    # Deleting the folder starts over, to the same model as the first run.
    discard(tmp_path)
    again = make().fit(X, y)
    np.testing.assert_array_equal(again.estimator_.coef_, model.estimator_.coef_)


def test_a_signed_checkpoint_resumes_with_its_key_only(
    data: tuple[da.Array, da.Array], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = data
    monkeypatch.setenv("DASKPAR_MODEL_KEY", KEY)
    make = lambda folder: dp.ParallelIncremental(  # noqa: E731
        SGDClassifier(random_state=0), epochs=4, checkpoint=folder, random_state=0
    )
    whole = make(None).fit(X, y)
    resumed, rerun = interrupted_then_resumed(make, lambda m: m.fit(X, y), tmp_path, 3)
    assert rerun == 2
    np.testing.assert_array_equal(resumed.estimator_.coef_, whole.estimator_.coef_)
    # Without the key, the signed checkpoint is not taken on trust.
    monkeypatch.delenv("DASKPAR_MODEL_KEY")
    with no_task_runs(), pytest.raises(CheckpointError, match="signed"):
        make(tmp_path).fit(X, y)


def test_without_a_key_a_checkpoint_is_not_authenticated(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    """The documented limit: without a key, a checkpoint edited by someone who can write its
    folder resumes. (This is what the key is for.)"""
    from daskpar import persist

    X, y = data
    make = lambda: dp.ParallelIncremental(  # noqa: E731
        SGDClassifier(random_state=0), epochs=2, checkpoint=tmp_path, random_state=0
    )
    model = make().fit(X, y)
    path = tmp_path / FILE_NAME
    assert not persist.describe(path)["signed"]
    saved = persist.loads(path.read_bytes(), name="test", allow_unsigned=True)
    saved["objects"]["model"].coef_ = -saved["objects"]["model"].coef_
    path.write_bytes(persist.dumps(saved)[0])
    # No training pass (the rerun of a finished run only reads the blocks to check them).
    with passes(incremental) as count:
        edited = make().fit(X, y)
    assert count[0] == 0
    np.testing.assert_array_equal(edited.estimator_.coef_, -model.estimator_.coef_)


@pytest.mark.parametrize("key", [None, KEY])
@pytest.mark.parametrize("link", ["symlink", "dangling", "hardlink"])
def test_a_checkpoint_reached_through_a_link_is_refused(
    data: tuple[da.Array, da.Array],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: str | None,
    link: str,
) -> None:
    """Another run's checkpoint, linked into this run's folder, is not resumed; nor is a link
    written through."""
    X, y = data
    if key is not None:
        monkeypatch.setenv("DASKPAR_MODEL_KEY", key)
    other, mine = tmp_path / "other", tmp_path / "mine"
    make = lambda folder: dp.ParallelIncremental(  # noqa: E731
        SGDClassifier(random_state=0), epochs=2, checkpoint=folder, random_state=0
    )
    make(other).fit(X, y)
    before = (other / FILE_NAME).read_bytes()
    mine.mkdir()
    if link == "symlink":
        (mine / FILE_NAME).symlink_to(other / FILE_NAME)
    elif link == "dangling":
        (mine / FILE_NAME).symlink_to(tmp_path / "nowhere" / FILE_NAME)
    else:
        os.link(other / FILE_NAME, mine / FILE_NAME)
    with no_task_runs(), pytest.raises(CheckpointError, match="link"):
        make(mine).fit(X, y)
    assert (other / FILE_NAME).read_bytes() == before
    assert not (tmp_path / "nowhere").exists()


def test_a_search_refuses_a_refit_folder_that_is_a_link(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    X, y = data
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = tmp_path / "search"
    folder.mkdir()
    (folder / "refit").symlink_to(elsewhere, target_is_directory=True)
    search = dp.GridSearchCV(
        dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=1),
        {"estimator__alpha": [1e-4, 1e-3]},
        cv=2,
        checkpoint=folder,
    )
    with no_task_runs(), pytest.raises(CheckpointError, match="symbolic link"):
        search.fit(X, y)
    assert list(elsewhere.iterdir()) == []


def test_a_checkpoint_folder_that_is_a_link_or_others_may_write_is_refused(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    """Whoever can write the folder can replace, read or link the checkpoint in it; a link
    named as the folder could be pointed elsewhere between two runs."""
    X, y = data
    make = lambda folder: dp.ParallelIncremental(  # noqa: E731
        SGDClassifier(random_state=0), epochs=1, checkpoint=folder, random_state=0
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "link"
    link.symlink_to(elsewhere, target_is_directory=True)
    with no_task_runs(), pytest.raises(CheckpointError, match="is a symbolic link"):
        make(link).fit(X, y)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with no_task_runs(), pytest.raises(CheckpointError, match="all users may write"):
        make(shared).fit(X, y)
    if os.geteuid() == 0:
        theirs = tmp_path / "theirs"
        theirs.mkdir()
        os.chown(theirs, 65534, 65534)
        with no_task_runs(), pytest.raises(CheckpointError, match="another user"):
            make(theirs).fit(X, y)
    assert list(elsewhere.iterdir()) == list(shared.iterdir()) == []
    # A new folder is made for its owner only: the checkpoint holds the model's coefficients.
    make(tmp_path / "new").fit(X, y)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "new" / FILE_NAME).stat().st_mode & 0o077 == 0


def test_a_fifo_in_place_of_the_checkpoint_is_refused_without_waiting(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    X, y = data
    os.mkfifo(tmp_path / FILE_NAME)
    with no_task_runs(), pytest.raises(CheckpointError, match="not a regular file"):
        dp.ParallelIncremental(SGDClassifier(), checkpoint=tmp_path).fit(X, y)


@pytest.mark.parametrize(
    "meta",
    [
        "[" * 100_000 + "]" * 100_000,
        "[1, 2]",
        '{"format": "daskpar-checkpoint"}',
        "not json",
        "kind-with-escapes",
        "environment-of-another-type",
    ],
)
def test_crafted_checkpoint_contents_are_a_checkpoint_error(
    data: tuple[da.Array, da.Array], tmp_path: Path, meta: str
) -> None:
    """Without a key, whoever wrote the folder wrote the checkpoint (unsigned): anything it
    holds is refused as a CheckpointError, and its strings reach no terminal raw."""
    import json

    from daskpar import persist

    X, y = data
    make = lambda: dp.ParallelIncremental(  # noqa: E731
        SGDClassifier(random_state=0), epochs=1, checkpoint=tmp_path, random_state=0
    )
    make().fit(X, y)
    path = tmp_path / FILE_NAME
    saved = persist.loads(path.read_bytes(), name="test", allow_unsigned=True)
    real = json.loads(saved["meta"])
    if meta == "kind-with-escapes":
        meta = json.dumps({**real, "kind": "\x1b[2J\rEVIL\u202e"})
    elif meta == "environment-of-another-type":
        meta = json.dumps({**real, "environment": ["split_every", 8]})
    saved["meta"] = meta
    path.write_bytes(persist.dumps(saved)[0])
    with no_task_runs(), pytest.raises(CheckpointError) as error:
        make().fit(X, y)
    assert not any(c in str(error.value) for c in "\x1b\r\u202e")
