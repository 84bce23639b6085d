"""A generated click log shaped like Criteo's, and its Vowpal Wabbit text form.

Each row has 13 integer count features (``i1`` .. ``i13``, Poisson counts with log-normal
rates, 10 % missing) and 26 categorical fields (``c1`` .. ``c26``) of 8 hexadecimal digits,
as Criteo's are. The fields' values are Zipf-distributed (exponent 1.1) over cardinalities
spaced from 10 to 1,000,000 on a log scale. The label comes from a hidden logistic model: a
weight per (field, value), drawn from a hash of the pair so that no table of weights is
kept, a weight per count feature on ``log1p(count)``, and weights on the value pairs of
three field pairs (``c1`` x ``c2``, ``c3`` x ``c4``, ``c5`` x ``c6``): a model without those
interactions cannot reach the best log-loss.

The table is written as one Parquet file per ``chunk_rows`` rows, generated chunk by chunk
(a chunk's rows depend only on its index and the seed), and reused by later runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

COUNTS = [f"i{k}" for k in range(1, 14)]
FIELDS = [f"c{k}" for k in range(1, 27)]
CARDINALITIES = np.unique(np.round(np.logspace(1, 6, len(FIELDS))).astype(np.int64))
#: The field pairs whose value pairs carry weight in the hidden model.
PAIRS = [("c1", "c2"), ("c3", "c4"), ("c5", "c6")]
#: The fields' namespaces, as the learners' interactions name them: ``a`` holds the fields
#: of the first members of PAIRS, ``b`` the second ones, ``c`` all the other fields.
NAMESPACES = {
    "a": [a for a, _ in PAIRS],
    "b": [b for _, b in PAIRS],
    "c": [f for f in FIELDS if f not in {x for pair in PAIRS for x in pair}],
}
ZIPF = 1.1
MISSING = 0.1


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer on uint64 (wrapping)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _normal_of(keys: np.ndarray, salt: int) -> np.ndarray:
    """A standard normal value per uint64 key, the same for the same key and salt."""
    with np.errstate(over="ignore"):
        a = _mix(keys * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt))
        b = _mix(a + np.uint64(0xD1B54A32D192ED03))
    u1 = ((a >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
    u2 = (b >> np.uint64(11)).astype(np.float64) / 2.0**53
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def chunk(index: int, rows: int, seed: int = 0) -> pd.DataFrame:
    """Rows ``index * rows`` to ``(index + 1) * rows - 1`` of the click log."""
    rng = np.random.default_rng([seed, index])
    columns: dict[str, object] = {}
    logit = np.full(rows, -1.2)
    for k, name in enumerate(COUNTS):
        rate = np.exp(rng.normal(1.0, 1.0, rows))
        counts = rng.poisson(rate)
        logit += 0.15 * _normal_of(np.array([k], dtype=np.uint64), 7)[0] * np.log1p(counts)
        # Nullable integers, as a Parquet file of counts with gaps holds them.
        columns[name] = pd.arrays.IntegerArray(counts, rng.random(rows) < MISSING)
    codes: dict[str, np.ndarray] = {}
    for k, (name, cardinality) in enumerate(zip(FIELDS, CARDINALITIES, strict=True)):
        value = (rng.zipf(ZIPF, rows) - 1) % int(cardinality)
        key = value.astype(np.uint64) * np.uint64(64) + np.uint64(k)
        codes[name] = key
        logit += 0.35 * _normal_of(key, 11)
        # Criteo-like 8 hexadecimal digits, a fixed scrambling of (field, value).
        hexes = (_mix(key) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        columns[name] = pd.array(np.char.mod("%08x", hexes), dtype="string[pyarrow]")
    for a, b in PAIRS:
        with np.errstate(over="ignore"):
            pair = codes[a] * np.uint64(1_000_003) ^ codes[b]
        logit += 0.8 * _normal_of(pair, 13)
    columns["label"] = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    return pd.DataFrame(columns)


def write(data_dir: Path, rows: int, chunk_rows: int, seed: int = 0) -> Path:
    """The click log as Parquet files of ``chunk_rows`` rows, written once and reused."""
    path = data_dir / f"clicklogs-{rows}-chunks{chunk_rows}.parquet"
    if (path / "_done").exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    for i in range(-(-rows // chunk_rows)):
        n = min(chunk_rows, rows - i * chunk_rows)
        chunk(i, n, seed).to_parquet(path / f"part-{i:05d}.parquet", index=False)
    (path / "_done").touch()
    return path


def vw_lines(frame: pd.DataFrame) -> pd.Series:
    """Vowpal Wabbit's text format of a chunk: ``1 |i i1:3 ... |a c1=0a1b... |b ... |c ...``,
    label -1 or 1, the counts as they are (missing ones left out: the same features as
    daskpar's hashing of the table), the categorical fields as ``name=value`` in the
    namespaces of NAMESPACES."""
    out = pd.Series(np.where(frame["label"].to_numpy() == 1, "1 |i", "-1 |i"), dtype=object)
    for name in COUNTS:
        value = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        text = pd.Series([f" {name}:{v:g}" for v in value], dtype=object)
        out = out + text.where(~np.isnan(value), "")
    for space, names in NAMESPACES.items():
        out = out + f" |{space}"
        for name in names:
            out = out + f" {name}=" + frame[name].astype(object)
    return out


def write_vw(parquet: Path, out: Path, files: list[Path]) -> Path:
    """The given Parquet files of the click log as one VW text file (written once)."""
    if out.exists():
        return out
    partial = out.with_suffix(".partial")
    with partial.open("w") as f:
        for file in files:
            lines = vw_lines(pd.read_parquet(file))
            f.write("\n".join(lines.tolist()))
            f.write("\n")
    partial.rename(out)
    return out
