"""The command line on hashed tables (issue 21): ``--hash-bits`` hashes every column of a
table without counting its categories, ``--interactions A:B`` crosses two columns' hashed
features, and the saved model (``Pipeline(FeatureHasher, scaler, model)``) takes a table's
columns by name for ``score`` and ``predict``.

The commands run in this process (``invoke``) with ``--scheduler`` of the module's cluster.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from daskpar_testing import cli, succeeded


def clicks(rows: int = 8000, seed: int = 0) -> pd.DataFrame:
    """User and ad ids, a site and a count, and a click that depends on the pair (user, ad)
    alone, as an XOR of their groups: each id alone says nothing, and each pair comes back
    about a dozen times, so the crossed feature of a pair learns it."""
    rng = np.random.default_rng(seed)
    user, ad = rng.integers(0, 30, rows), rng.integers(0, 20, rows)
    frame = pd.DataFrame(
        {
            "user": pd.array([f"u{u}" for u in user], dtype="string"),
            "ad": pd.array([f"a{a}" for a in ad], dtype="string"),
            "site": pd.array(rng.choice(["news", "shop", "mail"], rows), dtype="string"),
            "count": rng.poisson(3.0, rows),
        }
    )
    frame["clicked"] = np.where((user % 2) == (ad % 2), "yes", "no")
    return frame


@pytest.fixture(scope="module")
def click_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clicks")
    frame = clicks()
    (folder / "train").mkdir()
    for i, start in enumerate(range(0, len(frame), len(frame) // 4)):
        part = frame.iloc[start : start + len(frame) // 4]
        part.to_parquet(folder / "train" / f"{i}.parquet", index=False)
    held_out = clicks(2000, seed=1)
    held_out[held_out.columns[::-1]].to_csv(folder / "reordered.csv", index=False)
    held_out.drop(columns="clicked").to_csv(folder / "unlabeled.csv", index=False)
    return folder


def last_accuracy(stdout: str) -> float:
    rows = [ln.split() for ln in stdout.splitlines() if ln.split()[:1] and ln.split()[0].isdigit()]
    return float(rows[-1][-1])


@pytest.mark.slow
def test_hashing_with_an_interaction_learns_what_the_columns_alone_cannot(
    click_files: Path, scheduler_address: str
) -> None:
    common = ("--target", "clicked", "--model", "sgd-log", "--epochs", "4", "--seed", "0")
    alone = succeeded(
        cli("train", str(click_files / "train"), "--hash-bits", "18", *common,
            scheduler=scheduler_address)
    )  # fmt: skip
    crossed = succeeded(
        cli("train", str(click_files / "train"), "--hash-bits", "18", "--interactions",
            "user:ad", *common, "--save", str(click_files / "model.dp"),
            scheduler=scheduler_address)
    )  # fmt: skip
    assert "hashing 4 column(s) into 2**18 sparse columns" in alone.stdout
    assert "interactions: none" in alone.stdout
    assert "interactions: user x ad" in crossed.stdout
    assert "counting the categories" not in crossed.stdout  # no vocabulary, no profile pass
    assert "MaxAbsScaler" in crossed.stdout  # the sparse blocks stay sparse
    assert last_accuracy(alone.stdout) < 0.65  # the ids alone say nothing of their pair
    assert last_accuracy(crossed.stdout) > last_accuracy(alone.stdout) + 0.1


@pytest.mark.slow  # it reads the model that the slow test above saves
def test_the_hashed_model_scores_and_predicts_tables_by_name(
    click_files: Path, scheduler_address: str, tmp_path: Path
) -> None:
    import daskpar as dp

    model = dp.load(click_files / "model.dp", allow_unsigned=True)
    assert isinstance(model.steps[0][1], dp.FeatureHasher)
    assert list(model.feature_names_in_) == ["user", "ad", "site", "count"]
    scored = succeeded(
        cli("score", str(click_files / "model.dp"), str(click_files / "reordered.csv"),
            "--target", "clicked", "--allow-unsigned", scheduler=scheduler_address)
    )  # fmt: skip
    accuracy = float(
        next(ln for ln in scored.stdout.splitlines() if ln.startswith("accuracy:")).split()[1]
    )
    held_out = clicks(2000, seed=1)
    expected = model.score(held_out.drop(columns="clicked"), held_out["clicked"])
    assert accuracy == pytest.approx(expected, abs=1e-9)
    out = tmp_path / "predicted.csv"
    succeeded(
        cli("predict", str(click_files / "model.dp"), str(click_files / "unlabeled.csv"),
            "--out", str(out), "--allow-unsigned", scheduler=scheduler_address)
    )  # fmt: skip
    written = pd.read_csv(out)
    assert written.iloc[:, -1].tolist() == list(model.predict(held_out.drop(columns="clicked")))


def test_a_search_on_hashed_columns(click_files: Path, scheduler_address: str) -> None:
    result = succeeded(
        cli("search", str(click_files / "train"), "--target", "clicked", "--model", "sgd-log",
            "--grid", '{"alpha": [1e-5, 1e-3]}', "--cv", "2", "--epochs", "2",
            "--hash-bits", "16", "--interactions", "user:ad", scheduler=scheduler_address)
    )  # fmt: skip
    assert "interactions: user x ad" in result.stdout
    assert "searching 2 candidates x 2 folds on 8,000 rows x 65536 features" in result.stdout
    assert "best: alpha=" in result.stdout


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--interactions", "user:ad"], "give --hash-bits too"),
        (["--hash-bits", "18", "--one-hot", "site"], "leave out --one-hot and --ordinal"),
        (["--hash-bits", "18", "--interactions", "user:nope"], "no feature column 'nope'"),
        (["--hash-bits", "18", "--interactions", "user"], "is not A:B or A:B:C"),
        (["--hash-bits", "18", "--model", "multinomial-nb"], "scaled to [0, 1]"),
    ],
)
def test_hashing_options_are_refused_with_what_to_do(
    click_files: Path, scheduler_address: str, options: list[str], message: str
) -> None:
    result = cli(
        "train", str(click_files / "train"), "--target", "clicked", *options,
        scheduler=scheduler_address,
    )  # fmt: skip
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_svmlight_files_train_score_and_predict(tmp_path: Path, scheduler_address: str) -> None:
    # A libsvm file as other tools write it: one-based indices, labels -1/+1, no header.
    import scipy.sparse as sp
    from sklearn.datasets import dump_svmlight_file

    import daskpar as dp
    from daskpar.data import read_path

    rng = np.random.default_rng(0)
    X = sp.random(3000, 300, density=0.05, format="csr", random_state=1)
    y = np.where(X @ rng.normal(size=300) > 0, 1, -1)
    data, model_file, out = tmp_path / "clicks.libsvm", tmp_path / "m.dp", tmp_path / "p.csv"
    dump_svmlight_file(X, y, str(data), zero_based=False)
    trained = succeeded(
        cli("train", str(data), "--model", "sgd-log", "--epochs", "2", "--save",
            str(model_file), scheduler=scheduler_address)
    )  # fmt: skip
    assert "300 features" in trained.stdout
    assert "MaxAbsScaler" in trained.stdout  # sparse blocks stay sparse
    model = dp.load(model_file, allow_unsigned=True)
    Xr, yr = read_path(data)
    scored = succeeded(
        cli("score", str(model_file), str(data), "--allow-unsigned", scheduler=scheduler_address)
    )
    accuracy = float(
        next(ln for ln in scored.stdout.splitlines() if ln.startswith("accuracy:")).split()[1]
    )
    assert accuracy == pytest.approx(float(model.score(Xr, yr)), abs=1e-4)
    succeeded(
        cli("predict", str(model_file), str(data), "--out", str(out), "--allow-unsigned",
            scheduler=scheduler_address)
    )  # fmt: skip
    np.testing.assert_array_equal(pd.read_csv(out)["predictions"], model.predict(Xr).compute())
