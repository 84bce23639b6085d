"""Text: TF-IDF from Parquet with daskpar's native learner, against scikit-learn in memory.

The documents are generated (``--docs`` of them, default 1,000,000, in Parquet files of
``--chunk-docs``): two classes, each a mixture of a Zipf distribution over a shared
vocabulary of ``VOCABULARY`` words and a Zipf distribution over a class's own ordering of
the same words, so that the classes differ in many mid-frequency words and in no single
one; lengths are Poisson with mean 60 words. The last 10 % (whole files) are held out. One
2-worker x 1-thread LocalCluster. Rows:

- daskpar: ``Pipeline(dp.TfidfVectorizer(min_df=5), ParallelIncremental(
  AdaptiveSGDClassifier()))`` from the files, 1 and 3 epochs: the vocabulary and document
  frequencies in one pass, then the TF-IDF rows made inside the training tasks;
- scikit-learn in memory: ``TfidfVectorizer(min_df=5)`` then ``SGDClassifier(loss=
  "log_loss")`` (its default 5+ epochs to convergence) and ``LogisticRegression`` (the
  optimum) on the same documents, held in memory (reading them not counted).

Columns: seconds, training documents per second per core, held-out log-loss and AUC.
Targets: daskpar's vocabulary and idf equal scikit-learn's; held-out log-loss within 1 % of
scikit-learn's SGD at 3 epochs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import Section, command_line, local_cluster, parser
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline

import daskpar as dp

VOCABULARY = 50_000
MEAN_LENGTH = 60
#: The share of each document's words drawn from its class's own word ordering.
CLASS_SHARE = 0.03


def _words() -> np.ndarray:
    rng = np.random.default_rng(12345)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    out = set()
    while len(out) < VOCABULARY:
        size = rng.integers(3, 10)
        out.add("".join(rng.choice(letters, size)))
    return np.array(sorted(out))


def chunk(index: int, docs: int, words: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Documents ``index * docs`` to ``(index + 1) * docs - 1``."""
    rng = np.random.default_rng([seed, index])
    zipf = 1.0 / np.arange(1, VOCABULARY + 1) ** 1.05
    zipf /= zipf.sum()
    class_orders = [np.random.default_rng([seed, 1000 + c]).permutation(VOCABULARY) for c in (0, 1)]
    labels = rng.integers(0, 2, docs)
    lengths = rng.poisson(MEAN_LENGTH, docs)
    total = int(lengths.sum())
    shared = rng.choice(VOCABULARY, size=total, p=zipf)
    own = rng.choice(VOCABULARY, size=total, p=zipf)
    from_class = rng.random(total) < CLASS_SHARE
    doc_label = np.repeat(labels, lengths)
    own = np.where(doc_label == 0, class_orders[0][own], class_orders[1][own])
    ids = np.where(from_class, own, shared)
    tokens = words[ids]
    cuts = np.cumsum(lengths)[:-1]
    text = [" ".join(doc) for doc in np.split(tokens, cuts)]
    return pd.DataFrame({"text": pd.array(text, dtype="string"), "label": labels})


def write(data_dir: Path, docs: int, chunk_docs: int) -> Path:
    path = data_dir / f"text-{docs}-chunks{chunk_docs}"
    done = path / "_done"
    if done.exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    words = _words()
    for index in range(-(-docs // chunk_docs)):
        rows = min(chunk_docs, docs - index * chunk_docs)
        chunk(index, rows, words).to_parquet(path / f"part-{index:05d}.parquet", index=False)
    done.touch()
    return path


def held_out_quality(probability: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    probability = np.clip(probability, 1e-15, 1 - 1e-15)
    return float(log_loss(y, probability, labels=[0, 1])), float(roc_auc_score(y, probability))


def run_daskpar(X_train: Any, y_train: Any, X_test: Any, y_test: np.ndarray, epochs: int
                ) -> tuple[float, float, float, Any]:  # fmt: skip
    model = make_pipeline(
        dp.TfidfVectorizer(min_df=5),
        dp.ParallelIncremental(dp.AdaptiveSGDClassifier(random_state=0), epochs=epochs),
    )
    start = time.perf_counter()
    model.fit(X_train, y_train, parallelincremental__classes=[0, 1])
    seconds = time.perf_counter() - start
    probability = np.asarray(model.predict_proba(X_test)[:, 1].compute())
    return (seconds, *held_out_quality(probability, y_test), model[0])


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--docs", type=int, default=1_000_000)
    p.add_argument("--chunk-docs", type=int, default=100_000)
    args = p.parse_args()
    if args.smoke:
        args.docs, args.chunk_docs = 4_000, 1_000
    path = write(args.data_dir, args.docs, args.chunk_docs)
    files = sorted(path.glob("part-*.parquet"))
    n_test = max(1, round(len(files) / 10))
    train_files, test_files = files[:-n_test], files[-n_test:]
    train = pd.concat([pd.read_parquet(f) for f in train_files], ignore_index=True)
    test = pd.concat([pd.read_parquet(f) for f in test_files], ignore_index=True)
    n_train = len(train)
    section = Section(
        f"Text: {n_train:,} training documents (about {MEAN_LENGTH} words from a "
        f"{VOCABULARY:,}-word Zipf vocabulary, two classes); {len(train_files)} Parquet files; "
        "2 workers x 1 thread",
        command_line(),
        ["run", "seconds", "documents/s per core", "log-loss", "AUC"],
    )
    print(section.title)
    quality: dict[str, float] = {}
    with local_cluster(workers=2):
        X, y = dp.read_parquet(path, target="label", as_frame=True)
        n_parts = len(train_files)
        X_train, y_train = X["text"].partitions[:n_parts], y.partitions[:n_parts]
        X_test = X["text"].partitions[n_parts:]
        y_test = test["label"].to_numpy()
        fitted = None
        for epochs in (1, 3):
            seconds, loss, auc, fitted = run_daskpar(X_train, y_train, X_test, y_test, epochs)
            name = f"daskpar TF-IDF + AdaptiveSGDClassifier, {epochs} epoch{'s' * (epochs > 1)}"
            section.row(name, seconds, n_train * epochs / seconds / 2, loss, auc)
            quality[f"daskpar {epochs}"] = loss

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    start = time.perf_counter()
    vectorizer = TfidfVectorizer(min_df=5)
    train_rows = vectorizer.fit_transform(train["text"].to_numpy(dtype=object))
    vectorize = time.perf_counter() - start
    test_rows = vectorizer.transform(test["text"].to_numpy(dtype=object))
    section.row("scikit-learn TfidfVectorizer in memory (fit_transform)", vectorize,
                n_train / vectorize, None, None)  # fmt: skip
    for name, model in (
        ("SGDClassifier(log_loss)", SGDClassifier(loss="log_loss", random_state=0)),
        ("LogisticRegression (lbfgs; the optimum)", LogisticRegression(max_iter=1000)),
    ):
        start = time.perf_counter()
        model.fit(train_rows, train["label"])
        seconds = time.perf_counter() - start
        loss, auc = held_out_quality(model.predict_proba(test_rows)[:, 1], y_test)
        epochs = int(np.max(model.n_iter_))
        passes = "iterations" if isinstance(model, LogisticRegression) else "epochs"
        section.row(f"scikit-learn {name}, {epochs} {passes}, on the TF-IDF rows", seconds,
                    n_train * epochs / seconds, loss, auc)  # fmt: skip
        quality[name] = loss

    assert fitted is not None
    same_vocabulary = fitted.vocabulary_ == vectorizer.vocabulary_
    same_idf = same_vocabulary and np.allclose(fitted.idf_, vectorizer.idf_, rtol=1e-12)
    section.target(
        "vocabulary and idf equal scikit-learn's",
        f"{len(fitted.vocabulary_):,} terms, {'equal' if same_idf else 'different'}",
        bool(same_idf),
    )
    ours, theirs = quality["daskpar 3"], quality["SGDClassifier(log_loss)"]
    section.target(
        "held-out log-loss <= 1.01 x scikit-learn's SGDClassifier (3 epochs)",
        f"{ours:.4f} vs {theirs:.4f}",
        ours <= 1.01 * theirs,
    )
    section.write(args.out, "text")


if __name__ == "__main__":
    main()
