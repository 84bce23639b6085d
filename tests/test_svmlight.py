"""read_svmlight: the same samples as scikit-learn's loader, whatever the blocks."""

from __future__ import annotations

import bz2
import gzip
import io
import itertools
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.sparse as sp
from dask.core import flatten
from dask.highlevelgraph import HighLevelGraph
from dask.utils import key_split
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import dump_svmlight_file, load_svmlight_files
from sklearn.datasets import tests as datasets_tests
from sklearn.linear_model import SGDClassifier

import daskpar as dp
from daskpar._io import path_format
from daskpar._io.svmlight import SvmBlock, block_lines, count_svmlight_rows, read_svmlight
from daskpar._sklearn_compat import InvalidParameterError
from daskpar.data import read_path
from daskpar.errors import InputError, PartitionError

#: A small file with what text files hold: comments, blank lines, CRLF, qid, explicit zeros,
#: a line with a label only, and no newline at the end.
AWKWARD = (
    b"# written by hand\n"
    b"1 qid:1 1:0.5 3:2 # trailing comment\n"
    b"\n"
    b"-1 qid:1 2:1.5\r\n"
    b"   \t\n"
    b"0 qid:2 1:0 7:-3.25e2\n"
    b"#  1 2:3\n"
    b"2.5 qid:2\n"
    b"1 qid:3 4:1 5:1 6:1"
)


def _expected(paths: list[Path], **kwargs: Any) -> tuple[Any, ...]:
    """scikit-learn's reading of ``paths``, the files' samples stacked in order."""
    parts = load_svmlight_files([str(p) for p in paths], **kwargs)
    step = 3 if kwargs.get("query_id") else 2
    groups = [parts[i::step] for i in range(step)]
    return (sp.csr_matrix(sp.vstack(groups[0])), *(np.concatenate(g) for g in groups[1:]))


def _blocks(a: da.Array) -> list[Any]:
    return list(dask.compute(*a.to_delayed().ravel()))


def _check_same(ours: tuple[da.Array, ...], theirs: tuple[Any, ...]) -> None:
    X, *rest = ours
    assert len(ours) == len(theirs)
    assert sp.issparse(X._meta)
    assert X._meta.format == "csr"
    assert not any(np.isnan(c) for c in X.chunks[0])
    assert X.shape == theirs[0].shape
    assert X.dtype == theirs[0].dtype
    assert len(X.chunks[1]) == 1
    blocks = _blocks(X)
    for block, rows in zip(blocks, X.chunks[0], strict=True):
        assert isinstance(block, sp.csr_matrix), type(block)  # never densified
        assert block.shape == (rows, X.shape[1])
        assert block.dtype == X.dtype
    stacked = sp.vstack(blocks) if blocks else sp.csr_matrix(X.shape)
    np.testing.assert_array_equal(stacked.toarray(), theirs[0].toarray())
    assert stacked.nnz == theirs[0].nnz  # explicit zeros kept, as scikit-learn keeps them
    for ours_1d, theirs_1d in zip(rest, theirs[1:], strict=True):
        assert ours_1d.chunks == (X.chunks[0],)
        np.testing.assert_array_equal(ours_1d.compute(), theirs_1d)
        assert ours_1d.dtype == theirs_1d.dtype


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------------------------
# Blocks own the lines that start in them


def test_every_line_is_in_exactly_one_block_for_every_cut_of_a_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.svm", AWKWARD)
    size = len(AWKWARD)
    for cut in range(size + 1):
        first = block_lines(SvmBlock(str(path), 0, 0, cut))
        second = block_lines(SvmBlock(str(path), 0, cut, size))
        assert first[1] + second[1] == AWKWARD, cut
        assert second[0] == len(first[1])
        # Each piece holds whole lines only: it starts where a line starts.
        assert second[0] == 0 or AWKWARD[second[0] - 1 : second[0]] == b"\n" or not second[1]
    for a, b in itertools.combinations(range(size + 1), 2):
        pieces = [block_lines(SvmBlock(str(path), 0, lo, hi))[1] for lo, hi in ((0, a), (a, b))]
        pieces.append(block_lines(SvmBlock(str(path), 0, b, size))[1])
        assert b"".join(pieces) == AWKWARD, (a, b)


def test_the_row_count_is_scikit_learns() -> None:
    for data in (AWKWARD, b"", b"\n\n", b"# only\n", b"1\n", b"1", b"\r\n1 1:1\r\n", b" 1 # x"):
        X, _ = load_svmlight_files([io.BytesIO(data)], zero_based=True)
        assert count_svmlight_rows(data) == X.shape[0], data


@pytest.mark.parametrize("query_id", [False, True])
def test_every_blocksize_of_a_small_awkward_file_gives_scikit_learns_arrays(
    tmp_path: Path, query_id: bool
) -> None:
    path = _write(tmp_path / "a.svm", AWKWARD)
    theirs = _expected([path], query_id=query_id)
    for blocksize in [*range(1, len(AWKWARD) + 2), "1KiB", None, "auto"]:
        ours = read_svmlight(path, blocksize=blocksize, query_id=query_id)
        _check_same(ours, theirs)
    assert ours[0].shape == (5, 7)


@pytest.mark.parametrize("zero_based", ["auto", True, False])
@pytest.mark.parametrize("n_features", [None, 7, 20])
def test_zero_based_and_n_features_given_or_not(
    tmp_path: Path, zero_based: bool | str, n_features: int | None
) -> None:
    path = _write(tmp_path / "a.svm", AWKWARD.replace(b"1:0 ", b"2:0 "))
    kwargs: dict[str, Any] = {"zero_based": zero_based, "n_features": n_features}
    try:
        theirs = _expected([path], **kwargs)
    except ValueError:
        with pytest.raises((InputError, PartitionError), match="n_features was set to 7"):
            dask.compute(read_svmlight(path, blocksize=9, **kwargs))
        return
    for blocksize in (3, 9, 40, None):
        _check_same(read_svmlight(path, blocksize=blocksize, **kwargs), theirs)


# --------------------------------------------------------------------------------------------
# Generated data, written by scikit-learn


@st.composite
def _svmlight_files(draw: st.DrawFn) -> tuple[list[tuple[Any, Any, Any]], dict[str, Any]]:
    width = draw(st.integers(1, 12))
    files = []
    for _ in range(draw(st.integers(1, 3))):
        rows = draw(st.integers(1, 25))  # dump_svmlight_file refuses 0 rows
        density = draw(st.sampled_from([0.0, 0.2, 0.7, 1.0]))
        seed = draw(st.integers(0, 2**16))
        X = sp.random(rows, width, density=density, format="csr", random_state=seed)
        X.data = np.round(X.data * 20 - 10, draw(st.integers(0, 3)))  # some become 0
        y = np.asarray(draw(st.lists(st.integers(-3, 3), min_size=rows, max_size=rows)), float)
        qid = np.sort(
            np.asarray(draw(st.lists(st.integers(0, 5), min_size=rows, max_size=rows)), np.int64)
        )
        files.append((X, y, qid))
    options = {
        "dumped_zero_based": draw(st.booleans()),
        "comment": draw(st.sampled_from([None, "made by scikit-learn", "two\nlines"])),
        "zero_based": draw(st.sampled_from(["auto", True, False])),
        "n_features": draw(st.sampled_from([None, width, width + 3])),
        "query_id": draw(st.booleans()),
        "blocksize": draw(st.sampled_from([1, 7, 29, 100, 2**20, None])),
        "split_every": draw(st.sampled_from([2, 3, None])),
        "dtype": draw(st.sampled_from([np.float64, np.float32])),
    }
    return files, options


@settings(max_examples=40)
@given(_svmlight_files())
def test_files_dumped_by_scikit_learn_read_back_as_scikit_learn_reads_them(
    tmp_path_factory: pytest.TempPathFactory,
    drawn: tuple[list[tuple[Any, Any, Any]], dict[str, Any]],
) -> None:
    files, options = drawn
    folder = tmp_path_factory.mktemp("dumped")
    paths = []
    for i, (X, y, qid) in enumerate(files):
        paths.append(folder / f"part-{i:02d}.svm")
        dump_svmlight_file(
            X,
            y,
            str(paths[-1]),
            zero_based=options["dumped_zero_based"],
            comment=options["comment"],
            query_id=qid if options["query_id"] else None,
        )
    kwargs = {k: options[k] for k in ("zero_based", "n_features", "query_id", "dtype")}
    try:
        theirs = _expected(paths, **kwargs)
    except ValueError as error:
        # Indices that one-based reading refuses (an index 0), or more columns than asked for.
        refused: str | None = str(error).split(" in ")[0].split(",")[0]
    else:
        refused = None
    if refused is not None:
        with pytest.raises((InputError, PartitionError), match=refused):
            dask.compute(
                read_svmlight(
                    str(folder / "*.svm"),
                    blocksize=options["blocksize"],
                    split_every=options["split_every"],
                    **kwargs,
                )
            )
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dask.array.PerformanceWarning)
        ours = read_svmlight(
            str(folder / "*.svm"),
            blocksize=options["blocksize"],
            split_every=options["split_every"],
            **kwargs,
        )
    _check_same(ours, theirs)


# --------------------------------------------------------------------------------------------
# Several files: scikit-learn's rules over all of them


def test_one_file_with_an_index_0_makes_all_files_zero_based(tmp_path: Path) -> None:
    one = _write(tmp_path / "a.svm", b"1 1:1 2:2\n0 3:3\n")
    zero = _write(tmp_path / "b.svm", b"1 0:5\n")
    for paths in ([one, zero], [zero, one]):
        theirs = _expected(paths)
        assert theirs[0].shape == (3, 4)
        for blocksize in (2, 5, None):
            _check_same(read_svmlight(paths, blocksize=blocksize), theirs)
    _check_same(read_svmlight(str(tmp_path / "*.svm"), blocksize=3), _expected([one, zero]))
    # Alone, the one-based file is read one-based.
    _check_same(read_svmlight(one, blocksize=3), _expected([one]))
    assert read_svmlight(one)[0].shape == (2, 3)


def test_a_file_without_any_index_makes_all_files_zero_based(tmp_path: Path) -> None:
    one = _write(tmp_path / "a.svm", b"1 1:1 2:2\n0 3:3\n")
    bare = _write(tmp_path / "b.svm", b"1\n0 # no features\n")
    empty = _write(tmp_path / "c.svm", b"")
    for paths in ([one, bare], [one, empty], [empty, one, bare]):
        theirs = _expected(paths)
        assert theirs[0].shape[1] == 4
        _check_same(read_svmlight(paths, blocksize=4), theirs)


def test_an_empty_file_reads_as_scikit_learn_reads_it(tmp_path: Path) -> None:
    empty = _write(tmp_path / "e.svm", b"")
    comments = _write(tmp_path / "c.svm", b"# nothing\n\n")
    for path in (empty, comments):
        X, y = read_svmlight(path)
        _check_same((X, y), _expected([path]))
        assert X.shape == (0, 1)
        assert X.chunks == ((0,), (1,))
    X, y = read_svmlight(empty, n_features=4, zero_based=False)
    assert X.shape == (0, 4)
    assert y.compute().shape == (0,)


def test_n_features_is_the_largest_any_file_needs_and_too_few_names_the_file(
    tmp_path: Path,
) -> None:
    small = _write(tmp_path / "a.svm", b"1 1:1\n")
    wide = _write(tmp_path / "b.svm", b"1 9:1\n0 2:1\n")
    _check_same(read_svmlight([small, wide], blocksize=3), _expected([small, wide]))
    with pytest.raises(ValueError, match="n_features was set to 5, but input file contains 9"):
        load_svmlight_files([str(small), str(wide)], n_features=5)
    with pytest.raises(InputError, match=r"n_features was set to 5, but input file .*b\.svm"):
        read_svmlight([small, wide], n_features=5)
    # Given zero_based too, only the read finds out, and names the line.
    X, _ = read_svmlight([small, wide], n_features=5, zero_based=False)
    with pytest.raises(PartitionError, match=r"line 1 of .*b\.svm.*n_features was set to 5"):
        X.compute()


# --------------------------------------------------------------------------------------------
# Compressed files


@pytest.mark.parametrize(("suffix", "compress"), [(".gz", gzip.compress), (".bz2", bz2.compress)])
def test_a_compressed_file_is_one_block(tmp_path: Path, suffix: str, compress: Any) -> None:
    packed = _write(tmp_path / f"a.svm{suffix}", compress(AWKWARD))
    plain = _write(tmp_path / "b.svm", b"3 2:1\n4 1:1\n")
    theirs = _expected([packed, plain], query_id=False)
    ours = read_svmlight([packed, plain], blocksize=5)
    _check_same(ours, theirs)
    assert ours[0].chunks[0][0] == 5  # the whole compressed file


# --------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b"1 a:1", "invalid literal for int"),
        (b"1 2:x", "could not convert string to float"),
        (b"yes 2:1", "could not convert string to float"),
        (b"1 3:1 2:1", "should be sorted and unique"),
        (b"1 2", "need more than 1 value"),
        (b"1 -1:2", "Invalid index -1"),
    ],
)
@pytest.mark.parametrize("given", [False, True])
def test_a_malformed_line_is_named_by_its_file_and_line_number(
    tmp_path: Path, line: bytes, says: str, given: bool
) -> None:
    lines = [b"1 1:1 2:2", b"# comment", b"0 3:1"] * 5
    lines.insert(11, line)
    path = _write(tmp_path / "bad.svm", b"\n".join(lines) + b"\n")
    with pytest.raises(ValueError, match=says):
        load_svmlight_files([str(path)])
    kwargs: dict[str, Any] = {"n_features": 5, "zero_based": False} if given else {}
    with pytest.raises(PartitionError, match=rf"line 12 of .*bad\.svm.*{says}") as caught:
        dask.compute(read_svmlight(path, blocksize=16, **kwargs))
    assert repr(line) in str(caught.value)


def test_an_index_0_read_one_based_says_to_read_it_zero_based(tmp_path: Path) -> None:
    path = _write(tmp_path / "z.svm", b"1 1:1\n0 0:1\n")
    with pytest.raises(PartitionError, match=r"line 2 of .*Invalid index 0.*zero_based=True"):
        read_svmlight(path, zero_based=False)


def test_query_id_needs_a_qid_on_every_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.svm", b"1 qid:1 1:1\n0 qid:1 2:1\n1 3:1\n")
    settled: list[dict[str, Any]] = [{}, {"n_features": 3, "zero_based": False}]
    for known in settled:
        with pytest.raises(PartitionError, match=r"line 3 of .*q\.svm. has no qid"):
            read_svmlight(path, query_id=True, blocksize=4, **known)
    # Without query_id, qids are ignored, as scikit-learn ignores them.
    _check_same(read_svmlight(path, blocksize=4), _expected([path]))


def test_bad_paths_and_parameters_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_svmlight(tmp_path / "missing.svm")
    with pytest.raises(InputError, match="no file matches"):
        read_svmlight(str(tmp_path / "*.svm"))
    with pytest.raises(InputError, match="is a directory"):
        read_svmlight(tmp_path)
    path = _write(tmp_path / "a.svm", b"1 1:1\n")
    with pytest.raises(InvalidParameterError, match="multilabel"):
        read_svmlight(path, multilabel=True)
    with pytest.raises(InvalidParameterError, match="'blocksize' parameter"):
        read_svmlight(path, blocksize="lots")
    with pytest.raises(InvalidParameterError, match="'zero_based' parameter"):
        read_svmlight(path, zero_based="yes")
    with pytest.raises(InvalidParameterError, match="'split_every' parameter"):
        read_svmlight(path, split_every=1)


# --------------------------------------------------------------------------------------------
# The graph


def _stages(*arrays: da.Array) -> Counter[str]:
    """The tasks of each stage once the graph of ``arrays`` is optimized, as daskpar runs it."""
    graph = HighLevelGraph.merge(*(a.__dask_graph__() for a in arrays))
    keys = [key for a in arrays for key in flatten(a.__dask_keys__())]
    with dask.config.set({"optimization.fuse.active": False}):
        optimized = da.Array.__dask_optimize__(graph, keys)
    return Counter(key_split(key) for key in dict(optimized))


def test_stage_names_and_one_read_task_per_block(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.svm", AWKWARD)
    X, y, qid = read_svmlight(path, blocksize=30, query_id=True)
    n = X.numblocks[0]
    assert n > 2
    assert X.name.startswith("read-svm-X-")
    assert y.name.startswith("read-svm-y-")
    assert qid.name.startswith("read-svm-qid-")
    # The block descriptors are data; one task reads a block, fused with its use if alone.
    assert _stages(X) == {"svm-blocks": n, "read-svm-X": n}
    assert _stages(X, y) == {"svm-blocks": n, "read-svm": n, "read-svm-X": n, "read-svm-y": n}
    assert _stages(X, y, qid)["read-svm"] == n
    # The same call gives the same keys; a rewritten file gives new ones.
    assert read_svmlight(path, blocksize=30)[0].name == read_svmlight(path, blocksize=30)[0].name
    before = read_svmlight(path, blocksize=30)[0].name
    _write(path, AWKWARD + b"\n1 1:1\n")
    assert read_svmlight(path, blocksize=30)[0].name != before


def test_the_scan_does_not_depend_on_split_every(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.svm", b"".join(b"%d %d:1\n" % (i % 2, i % 9 + 1) for i in range(60))
    )
    theirs = _expected([path])
    chunks = {read_svmlight(path, blocksize=11, split_every=s)[0].chunks for s in (2, 3, 8)}
    assert len(chunks) == 1
    _check_same(read_svmlight(path, blocksize=11, split_every=2), theirs)


def test_many_tiny_blocks_warn(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.svm", b"1 1:1\n" * 300)
    with pytest.warns(dask.array.PerformanceWarning, match="read_svmlight: 300 blocks"):
        X, _ = read_svmlight(path, blocksize=6)
    assert X.chunks[0] == (1,) * 300


# --------------------------------------------------------------------------------------------
# Through read_path and into the models

#: scikit-learn's own svmlight test file, written by another tool than this one.
SKLEARN_FILE = Path(datasets_tests.__file__).with_name("data") / "svmlight_classification.txt"


@pytest.mark.parametrize("name", ["a.svm", "a.svmlight", "a.libsvm", "a.svm.gz", "a.SVM.bz2"])
def test_read_path_reads_svmlight_by_its_suffix(tmp_path: Path, name: str) -> None:
    data = SKLEARN_FILE.read_bytes()
    opener = {".gz": gzip.compress, ".bz2": bz2.compress}.get(Path(name).suffix, bytes)
    path = _write(tmp_path / name, opener(data))
    assert path_format(path) == "svmlight"
    _check_same(read_path(path), _expected([path]))
    X, y = read_path(path, y=None)
    assert y is None
    assert sp.issparse(X._meta)


def test_read_path_refuses_what_an_svmlight_file_cannot_be(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.svm.xz", b"1 1:1\n")
    with pytest.raises(InputError, match=r"compressed as \.xz.*gzip \(\.gz\) or bzip2"):
        read_path(path)
    path = _write(tmp_path / "a.svm", b"1 1:1\n")
    with pytest.raises(InputError, match="holds its targets on each line"):
        read_path(path, y="targets.npy")
    with pytest.raises(InputError, match="as_frame=True reads tables"):
        read_path(path, as_frame=True)
    with pytest.raises(InputError, match=r"no such file: 'memory://none/a\.svm'"):
        read_path("memory://none/a.svm")


def test_blocks_hold_int32_indices_that_scikit_learns_sgd_trains_on(tmp_path: Path) -> None:
    # load_svmlight_file gives int64 index arrays; SGDClassifier's partial_fit refuses them.
    # The blocks read here carry int32 ones, and a fit on them is the fit on the same rows
    # held in memory, block for block.
    rng = np.random.default_rng(0)
    X = sp.random(600, 40, density=0.2, format="csr", random_state=0)
    y = (X @ rng.normal(size=40) > 0).astype(int)
    path = tmp_path / "train.svm"
    dump_svmlight_file(X, y, str(path))
    Xr, yr = read_svmlight(path, blocksize=4000)
    blocks = _blocks(Xr)
    assert len(blocks) > 2
    assert all(b.indices.dtype == np.int32 and b.indptr.dtype == np.int32 for b in blocks)
    with pytest.raises(ValueError, match="32-bit integer indices"):
        SGDClassifier().partial_fit(load_svmlight_files([str(path)])[0], y, classes=[0, 1])

    def model() -> Any:
        inner = SGDClassifier(loss="log_loss", fit_intercept=False, random_state=0)
        return dp.ParallelIncremental(inner, epochs=2, random_state=0)

    ours = model().fit(Xr, yr.astype(int))
    same_rows = da.from_array(sp.csr_matrix(X.toarray()), chunks=(Xr.chunks[0], -1), asarray=False)
    theirs = model().fit(same_rows, da.from_array(y, chunks=Xr.chunks[0]))
    np.testing.assert_allclose(ours.estimator_.coef_, theirs.estimator_.coef_, rtol=1e-12)
    adaptive = dp.ParallelIncremental(dp.AdaptiveSGDClassifier(), epochs=2, random_state=0)
    ours = clone(adaptive).fit(Xr, yr)
    theirs = clone(adaptive).fit(same_rows, da.from_array(y, chunks=Xr.chunks[0]))
    np.testing.assert_allclose(ours.estimator_.coef_, theirs.estimator_.coef_, rtol=1e-12)
