"""The audit log: one record per operation, a hash chain that detects edits, and a fingerprint
of the data that does not depend on its chunking.

- every operation appends exactly one record, a failed one too (and its error is re-raised);
- ``verify`` accepts the chain as written and names the first broken line after any one-byte
  edit, a deleted record, or two records swapped; a cut tail needs the head kept elsewhere;
- two processes appending at once leave one valid chain;
- the fingerprint is the same for any chunking and for numpy, and changes with one value or
  two rows swapped;
- control characters in a record are printed escaped, and the log is never written through a
  symbolic link.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
from click.testing import CliRunner
from dask.callbacks import Callback
from sklearn.base import BaseEstimator
from sklearn.linear_model import SGDClassifier

import daskpar as dp
from daskpar import audit, persist
from daskpar._sklearn_compat import InvalidParameterError
from daskpar.audit import AuditLogError


def chunked(a: np.ndarray, rows: int | tuple[int, ...]) -> da.Array:
    return da.from_array(a, chunks=(rows, *a.shape[1:]))


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(600, 4)), rng.integers(0, 3, size=600)


def write_records(log: Path, n: int, *, start: int = 0) -> None:
    for i in range(start, start + n):
        with audit.operation("score", log=log) as record:
            record.metrics["i"] = i


# --------------------------------------------------------------------------------------------
# Records


def test_one_record_per_operation_a_failed_one_too(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    log = tmp_path / "audit.jsonl"
    X, y = (chunked(a, 200) for a in data)
    model = dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=2, random_state=0)
    with audit.operation("fit", estimator=model, X=X, y=y, log=log) as record:
        model.fit(X, y)
        record.metrics["score"] = model.score(X, y)
    with (
        pytest.raises(dp.InputError, match="different numbers of rows"),
        audit.operation("fit", estimator=model, X=X, y=y[:300], log=log),
    ):
        model.fit(X, y[:300])
    path = tmp_path / "model.dp"
    with audit.operation("save", estimator=model, log=log) as record:
        persist.save(model, path, key="k" * 32)
        record.model_file = path
    with audit.operation("load", log=log) as record:
        record.estimator = persist.load(path, key="k" * 32)
        record.model_file = path

    records = audit.read(log)
    assert [(r["operation"], r["status"]) for r in records] == [
        ("fit", "ok"),
        ("fit", "failed"),
        ("save", "ok"),
        ("load", "ok"),
    ]
    fit, failed, save, load = records
    assert fit["error"] is None
    assert failed["error"]["type"] == "daskpar.errors.InputError"
    assert "different numbers of rows" in failed["error"]["message"]
    assert fit["estimator"]["class"] == "daskpar.ParallelIncremental"
    assert fit["estimator"]["params"]["epochs"] == 2
    assert fit["estimator"]["params"]["estimator"] == {
        "class": "sklearn.linear_model.SGDClassifier",
        "params": SGDClassifier(random_state=0).get_params(),
    }
    assert fit["metrics"]["score"] == pytest.approx(model.score(X, y))
    assert fit["data"]["X"]["shape"] == [600, 4]
    assert fit["data"]["X"]["chunks"] == [[[200, 3]], [[4, 1]]]
    assert fit["data"]["y"]["content"] == audit.fingerprint(data[1])["X"]["content"]
    assert save["model_file"]["sha256"] == persist.file_sha256(path)
    assert load["model_file"] == save["model_file"]
    assert load["estimator"]["class"] == "daskpar.ParallelIncremental"
    for r in records:
        assert {"time", "seconds", "user", "os_user", "host", "pid", "versions"} <= r.keys()
        assert {"daskpar", "dask", "distributed", "scikit-learn", "numpy"} <= r["versions"].keys()
        assert r["user"] == r["os_user"]  # no TLS here
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert records[0]["prev"] == audit.GENESIS
    assert [r["prev"] for r in records[1:]] == [r["hash"] for r in records[:-1]]
    assert audit.verify(log).n_records == 4


def test_model_files_saved_and_loaded_are_recorded_refusals_too(tmp_path: Path) -> None:
    log, path = tmp_path / "audit.jsonl", tmp_path / "model.dp"
    scaler = dp.StandardScaler().fit(np.arange(8.0).reshape(4, 2))
    with dask.config.set({audit.CONFIG_KEY: str(log)}):
        persist.save(scaler, path, key="k" * 32, encrypt=True)
        persist.load(path, key="k" * 32)
        with pytest.raises(persist.ModelKeyError):
            persist.load(path, key="o" * 32)
    save, load, refused = audit.read(log)
    digest = persist.file_sha256(path)
    assert save["operation"] == "save"
    assert save["extra"] == {"signed": True, "encrypted": True}
    assert save["estimator"]["class"] == "daskpar.StandardScaler"
    assert load["status"] == "ok"
    assert load["estimator"]["class"] == "daskpar.StandardScaler"
    assert refused["status"] == "failed"
    assert refused["error"]["type"] == "daskpar.persist.ModelKeyError"
    assert save["model_file"] == load["model_file"] == refused["model_file"]
    assert save["model_file"]["sha256"] == digest
    assert audit.verify(log).n_records == 3


def test_no_url_credential_reaches_the_log(tmp_path: Path) -> None:
    """A model file's presigned URL, a URL with a password in an error or any other field:
    the log holds them scrubbed (every text of a record), and the chain still verifies."""
    log = tmp_path / "audit.jsonl"
    scaler = dp.StandardScaler().fit(np.arange(8.0).reshape(4, 2))
    url = "memory://bucket/m.dp?X-Amz-Signature=SIGNATURE0123&sig=AZURESIG"
    with dask.config.set({audit.CONFIG_KEY: str(log)}):
        persist.save(scaler, url, key="k" * 32)
        assert persist.load(url, key="k" * 32).mean_.tolist() == scaler.mean_.tolist()

        def fail() -> None:
            with audit.operation("score") as record:
                record.extra["source"] = "s3://KEY:PASSWORD@bucket/data.csv"
                raise ValueError("cannot read 's3://KEY:PASSWORD@bucket/x?access_token=TOKEN9'")

        with pytest.raises(ValueError, match="cannot"):
            fail()
    text = log.read_text()
    for secret in ("SIGNATURE0123", "AZURESIG", "PASSWORD", "TOKEN9"):
        assert secret not in text
    save, load, failed = audit.read(log)
    assert save["model_file"]["path"] == "memory://bucket/m.dp?X-Amz-Signature=***&sig=***"
    assert load["model_file"] == save["model_file"]
    assert failed["extra"]["source"] == "s3://bucket/data.csv"
    assert "s3://bucket/x?access_token=***" in failed["error"]["message"]
    assert audit.verify(log).n_records == 3


def test_operations_inside_an_operation_are_part_of_it(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with audit.operation("fit", log=log) as outer:
        with audit.operation("save", log=log) as inner:
            assert not inner.enabled
        assert outer.enabled
    with audit.operation("score", log=log):
        pass
    assert [r["operation"] for r in audit.read(log)] == ["fit", "score"]


def test_the_content_hash_can_be_turned_off(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    X = chunked(np.zeros((10, 2)), 5)
    with dask.config.set({audit.CONTENT_HASH_KEY: False}), audit.operation("fit", X=X, log=log):
        pass
    with audit.operation("fit", X=X, log=log, content_hash=True):
        pass
    without, with_hash = (r["data"]["X"] for r in audit.read(log))
    assert "content" not in without
    assert without["shape"] == [10, 2]
    assert with_hash["content"] == audit.fingerprint(X)["X"]["content"]


def test_a_fingerprint_computed_already_is_not_computed_again(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    X = chunked(np.zeros((10, 2)), 5)
    known = audit.fingerprint(X)
    tasks: list[Any] = []
    with (
        Callback(pretask=lambda key, dsk, state: tasks.append(key)),
        audit.operation("fit", X=X, log=log) as record,
    ):
        record.data = known
    assert tasks == []
    assert audit.read(log)[0]["data"] == known


def test_an_interrupt_is_recorded_without_reading_the_data(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    X = da.from_delayed(dask.delayed(broken_block)(), shape=(10, 2), dtype=float)
    with pytest.raises(KeyboardInterrupt), audit.operation("fit", X=X, log=log):
        raise KeyboardInterrupt
    (record,) = audit.read(log)
    assert record["status"] == "failed"
    assert record["error"]["type"] == "KeyboardInterrupt"
    assert "content" not in record["data"]["X"]


def broken_block() -> np.ndarray:
    raise OSError("the disk is gone")


def test_a_fingerprint_that_fails_is_recorded_as_such(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    X = da.from_delayed(dask.delayed(broken_block)(), shape=(10, 2), dtype=float)
    with audit.operation("fit", X=X, log=log):
        pass
    (record,) = audit.read(log)
    assert record["status"] == "ok"
    assert "the disk is gone" in record["data"]["error"]


def test_no_log_no_record_and_no_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    X = chunked(np.zeros((10, 2)), 5)
    tasks: list[Any] = []
    with (
        Callback(pretask=lambda key, dsk, state: tasks.append(key)),
        audit.operation("fit", X=X) as record,
    ):
        record.metrics["a"] = 1.0
    assert not record.enabled
    assert tasks == []
    assert list(tmp_path.iterdir()) == []


def test_the_dask_setting_switches_the_log_on(tmp_path: Path) -> None:
    log = tmp_path / "from-config.jsonl"
    with dask.config.set({audit.CONFIG_KEY: str(log)}), audit.operation("score") as record:
        assert record.enabled
    assert len(audit.read(log)) == 1


def test_values_that_json_cannot_hold_are_recorded_as_text(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with audit.operation("score", log=log) as record:
        record.metrics.update(
            nan=float("nan"), array=np.arange(3), big=np.zeros(100), f32=np.float32(0.5)
        )
        record.extra["object"] = object()
    (r,) = audit.read(log)
    assert r["metrics"] == {
        "nan": "nan",
        "array": [0, 1, 2],
        "big": "array(shape=(100,), dtype=float64)",
        "f32": 0.5,
    }
    assert r["extra"]["object"].startswith("<object object")
    audit.verify(log)


def test_parameters_are_validated(tmp_path: Path) -> None:
    with (
        pytest.raises(InvalidParameterError, match="'log' parameter of operation"),
        audit.operation("fit", log=3),  # type: ignore[arg-type]
    ):
        pass
    with pytest.raises(InvalidParameterError, match="'head' parameter of verify"):
        audit.verify(tmp_path / "a.jsonl", head=3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# The chain


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    write_records(path, 4)
    return path


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def assert_broken_at(path: Path, line: int) -> None:
    with pytest.raises(AuditLogError, match=f"line {line} ") as caught:
        audit.verify(path)
    assert caught.value.line == line
    assert [row["chain"] for row in audit.show(path)][line - 1] == "BROKEN"


def test_the_chain_verifies(log: Path) -> None:
    result = audit.verify(log)
    assert result.n_records == 4
    assert result.head == json.loads(lines(log)[-1])["hash"]
    assert audit.verify(log, head=result.head) == result
    write_records(log, 1, start=4)
    assert audit.verify(log, head=result.head).n_records == 5  # the head is still there
    assert [row["chain"] for row in audit.show(log)] == ["ok"] * 5


def test_every_edited_byte_is_detected(log: Path) -> None:
    original = log.read_bytes()
    first, second = (len(line) for line in lines(log)[:2])
    for position in range(first, first + second):  # every byte of line 2, its newline too
        edited = bytearray(original)
        edited[position] ^= 0x01
        log.write_bytes(bytes(edited))
        with pytest.raises(AuditLogError) as caught:
            audit.verify(log)
        assert caught.value.line == 2, f"byte {position - first} of line 2: {caught.value}"


def test_an_edited_value_is_named(log: Path) -> None:
    records = [json.loads(line) for line in lines(log)]
    records[2]["metrics"]["i"] = 99
    log.write_text(
        "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in records)
    )
    assert_broken_at(log, 3)
    with pytest.raises(AuditLogError, match="does not match its own hash"):
        audit.verify(log)


def test_a_deleted_record_is_detected(log: Path) -> None:
    kept = lines(log)
    log.write_bytes(b"".join(kept[:1] + kept[2:]))
    assert_broken_at(log, 2)
    with pytest.raises(AuditLogError, match="deleted, inserted or moved"):
        audit.verify(log)
    log.write_bytes(b"".join(kept[1:]))  # the first one
    assert_broken_at(log, 1)


def test_two_swapped_records_are_detected(log: Path) -> None:
    kept = lines(log)
    log.write_bytes(b"".join([kept[0], kept[2], kept[1], kept[3]]))
    assert_broken_at(log, 2)


def test_a_cut_tail_needs_the_head_kept_elsewhere(log: Path) -> None:
    """The documented limit: a chain cut short is still a chain; the kept head tells."""
    head = audit.verify(log).head
    assert head is not None
    log.write_bytes(b"".join(lines(log)[:-1]))
    assert audit.verify(log).n_records == 3
    with pytest.raises(AuditLogError, match="does not contain the record"):
        audit.verify(log, head=head)


def test_a_torn_last_line_is_detected_and_not_appended_to(log: Path) -> None:
    log.write_bytes(log.read_bytes()[:-10])
    assert_broken_at(log, 4)
    with pytest.raises(AuditLogError, match="incomplete"), audit.operation("fit", log=log):
        pass


def test_show_gives_table_rows(log: Path) -> None:
    rows = audit.show(log)
    assert [row["seq"] for row in rows] == ["1", "2", "3", "4"]
    assert rows[0]["operation"] == "score"
    assert rows[0]["metrics"] == "i=0"
    assert rows[0]["hash"] == json.loads(lines(log)[0])["hash"][:12]
    table = audit.format_table(rows).splitlines()
    assert table[0].split()[:3] == ["seq", "time", "user"]
    assert len(table) == 2 + len(rows)


def append_many(path: str, n: int) -> None:
    write_records(Path(path), n)


@pytest.mark.slow
def test_two_writer_processes_keep_one_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=append_many, args=(str(log), 50)) for _ in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [w.exitcode for w in writers] == [0, 0]
    assert audit.verify(log).n_records == 100
    by_pid: dict[int, list[int]] = {}
    for record in audit.read(log):
        by_pid.setdefault(record["pid"], []).append(record["metrics"]["i"])
    assert sorted(by_pid.values()) == [list(range(50))] * 2


# --------------------------------------------------------------------------------------------
# The data fingerprint


def content(X: Any, y: Any = None, **kwargs: Any) -> tuple[str, ...]:
    found = audit.fingerprint(X, y, **kwargs)
    return tuple(found[name]["content"] for name in ("X", "y") if name in found)


def test_the_fingerprint_does_not_depend_on_chunking(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    expected = content(X, y)
    for rows in (600, 100, (1, 299, 250, 50)):
        assert content(chunked(X, rows), chunked(y, rows)) == expected
    assert content(chunked(X, 7), chunked(y, 7), split_every=2) == expected
    # y chunked otherwise than X, and X chunked along columns too.
    assert content(da.from_array(X, chunks=(50, 2)), chunked(y, 120)) == expected


def test_the_fingerprint_changes_with_the_data(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    (expected,) = content(X)
    changed = X.copy()
    changed[321, 2] = np.nextafter(changed[321, 2], np.inf)  # one value, by one ulp
    swapped = X.copy()
    swapped[[10, 11]] = swapped[[11, 10]]
    columns = X[:, [1, 0, 2, 3]]
    fingerprints = {expected, *(content(chunked(a, 100))[0] for a in (changed, swapped, columns))}
    assert len(fingerprints) == 4
    assert content(X[:-1])[0] != expected
    assert content(y)[0] != content(y[::-1])[0]


def test_the_fingerprint_records_shape_chunks_and_dtype() -> None:
    X = chunked(np.zeros((10, 3), dtype=np.float32), (4, 4, 2))
    found = audit.fingerprint(X, content=False)["X"]
    assert found == {
        "type": "dask.Array",
        "shape": [10, 3],
        "chunks": [[[4, 2], [2, 1]], [[3, 1]]],
        "dtype": "float32",
    }


def test_the_fingerprint_hashes_each_block_where_it_is(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    """One task per block reads it; what reaches the client is the merged hash."""
    X, y = (chunked(a, 100) for a in data)
    keys: list[Any] = []
    with Callback(pretask=lambda key, dsk, state: keys.append(key)):
        audit.fingerprint(X, y)
    stages: dict[str, list[Any]] = {}
    for key in keys:
        if isinstance(key, tuple) and "hash" in key[0]:
            stages.setdefault(key[0].rpartition("-")[0], []).append(key[1:])
    (per_block,) = (name for name in stages if name.endswith(("-block", "-partition")))
    assert per_block.startswith("data-hash")
    assert sorted(stages[per_block]) == [(i, 0) for i in range(6)]


def test_the_fingerprint_of_strings_and_other_objects() -> None:
    labels = np.array(["setosa", "virginica", "versicolor"], dtype=object)
    assert content(chunked(labels, 1)) == content(labels)
    assert content(labels)[0] != content(labels[::-1])[0]
    assert content(labels.astype(str)) == content(chunked(labels.astype(str), 2))


def test_fits_and_searches_record_themselves_once(tmp_path: Path) -> None:
    """With the dask setting on, each fit and each search writes one record: a search's
    refit is part of the search, and a failed fit is recorded with its error."""
    log = tmp_path / "audit.jsonl"
    X, y = dp.make_classification(n_samples=4_000, n_features=5, chunks=500, random_state=0)
    X_val, y_val = X[:1000], y[:1000]
    with dask.config.set({"daskpar.audit": str(log), "scheduler": "sync"}):
        model = dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=2, random_state=0)
        model.fit(X, y, validation_data=(X_val, y_val))
        search = dp.GridSearchCV(
            dp.ParallelIncremental(SGDClassifier(random_state=0), random_state=0),
            {"estimator__alpha": [1e-4, 1e-2]},
            cv=2,
        ).fit(X, y)
        with pytest.raises(dp.InputError):
            model.fit(X, y[:100])  # misaligned
    records = audit.read(log)
    assert [(r["operation"], r["status"]) for r in records] == [
        ("fit", "ok"),
        ("search", "ok"),
        ("fit", "failed"),
    ]
    assert records[0]["metrics"]["validation_score"] == model.history_[-1]["validation_score"]
    assert records[1]["metrics"]["best_score"] == search.best_score_
    assert records[0]["data"] == records[1]["data"]  # the same data, the same fingerprint
    assert audit.verify(log).n_records == 3


def test_every_estimator_saves_itself(tmp_path: Path) -> None:
    X, y = dp.make_classification(n_samples=2_000, n_features=4, chunks=500, random_state=0)
    with dask.config.set(scheduler="sync"):
        fitted = [
            dp.ParallelIncremental(SGDClassifier(random_state=0), random_state=0).fit(X, y),
            dp.AdaptiveSGDClassifier(random_state=0).fit(*dask.compute(X, y)),
            dp.StandardScaler().fit(X),
            dp.Ridge(alpha=1.0).fit(X, y.astype(float)),
        ]
    X_np = np.asarray(X[:100].compute())

    def output(est: Any) -> np.ndarray:
        result = getattr(est, "transform" if hasattr(est, "transform") else "predict")(X_np)
        return np.asarray(result.compute() if hasattr(result, "compute") else result)

    for i, est in enumerate(fitted):
        path = tmp_path / f"m{i}.dp"
        est.save(path, key=b"k" * 32)
        back = dp.load(path, key=b"k" * 32)
        assert type(back) is type(est)
        np.testing.assert_array_equal(output(back), output(est))


# --------------------------------------------------------------------------------------------
# Printing records: what a record holds cannot act on the terminal

#: What would act on a terminal: ESC sequences that clear the screen and move the cursor, a
#: carriage return, a newline, a backspace, a C1 control (CSI), a NUL, the right-to-left
#: override and a bidi isolate, a line separator.
CONTROLS = "\x1b[2J\x1b[1;1H\rfake row\n| 9 | ok |\b\x9b31m\x00\u202eevil\u2066\u2028end"
UNPRINTED = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def unprinted(text: str) -> list[str]:
    """The characters of ``text`` a terminal would act on, newlines apart."""
    import unicodedata

    return [c for c in text if c != "\n" and unicodedata.category(c) in UNPRINTED]


class Annotated(BaseEstimator):  # type: ignore[misc]
    """An estimator with a free-text parameter, as a user's own wrapper may have."""

    def __init__(self, note: str = "") -> None:
        self.note = note

    def fit(self, X: Any, y: Any = None) -> Annotated:
        self.n_features_in_ = np.shape(X)[1]
        return self


def test_show_escapes_control_characters_planted_in_a_record(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    X = np.zeros((4, 2))
    Planted = type(f"Planted{CONTROLS.replace(chr(0), '')}", (Annotated,), {})
    model = Planted(note=CONTROLS)
    with audit.operation("fit", estimator=model, X=X, log=log) as record:
        model.fit(X)
        record.metrics[CONTROLS] = CONTROLS
        record.extra["out"] = CONTROLS
    with (
        pytest.raises(ValueError, match="refused"),
        audit.operation(f"fit{CONTROLS}", estimator=model, log=log),
    ):
        raise ValueError(f"refused {CONTROLS}")
    # The log keeps the values as they were; only their display is escaped.
    first = audit.read(log)[0]
    assert first["estimator"]["params"]["note"] == CONTROLS
    assert CONTROLS in first["metrics"]
    rows = audit.show(log)
    assert [unprinted(text) for row in rows for text in row.values()] == [[]] * sum(
        len(row) for row in rows
    )
    assert "\\x1b[2J" in rows[0]["estimator"]
    assert "\\u202eevil" in rows[0]["metrics"]
    table = audit.format_table(rows)
    assert unprinted(table) == []
    assert len(table.splitlines()) == 2 + len(rows)  # no fake rows
    # format_table escapes rows it is given directly, too.
    raw = audit.format_table([{"seq": "1", "note": CONTROLS}, {"seq": "2", CONTROLS: "x"}])
    assert unprinted(raw) == []
    assert len(raw.splitlines()) == 4
    # The command prints the table and nothing of the record raw.
    from daskpar._cli import main

    shown = CliRunner().invoke(main, ["audit", "show", str(log)])
    assert shown.exit_code == 0, shown.output
    assert unprinted(shown.output) == []
    assert "\\x1b[2J" in shown.output
    assert len(shown.output.splitlines()) == 2 + len(rows) + 2  # the table, a blank, the head


def test_a_broken_record_is_named_without_its_control_characters(log: Path) -> None:
    records = [json.loads(line) for line in lines(log)]
    records[1]["seq"] = f"2{CONTROLS}"
    records[1]["hash"] = audit._record_hash(records[1])
    log.write_bytes(b"".join(audit._canonical(r) + b"\n" for r in records))
    with pytest.raises(AuditLogError, match="line 2") as caught:
        audit.verify(log)
    assert unprinted(str(caught.value)) == []
    rows = audit.show(log)
    assert rows[1]["chain"] == "BROKEN"
    assert unprinted(rows[1]["seq"]) == []
    # Records edited into shapes daskpar never writes still show as a row.
    records[2].update(estimator="x", data={"X": {"shape": 7}}, metrics=[1], error="e")
    records[2]["hash"] = audit._record_hash(records[2])
    log.write_bytes(b"".join(audit._canonical(r) + b"\n" for r in records))
    assert audit.show(log)[2]["data"] == "7"


# --------------------------------------------------------------------------------------------
# The log's own file: never through a symbolic link


def test_the_log_is_never_written_through_a_symbolic_link(tmp_path: Path) -> None:
    folder, elsewhere = tmp_path / "logs", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    other = elsewhere / "other.jsonl"
    other.write_bytes(b"")
    link = folder / "audit.jsonl"
    link.symlink_to(other)
    with (
        pytest.raises(
            AuditLogError,
            match=r"audit.jsonl' is a symbolic link \(to '.*other.jsonl'\).*Name the log file",
        ),
        audit.operation("fit", log=link),
    ):
        pass
    assert other.read_bytes() == b""
    # A dangling link would create the file it points to.
    dangling = folder / "dangling.jsonl"
    dangling.symlink_to(elsewhere / "created.jsonl")
    with (
        dask.config.set({audit.CONFIG_KEY: str(dangling)}),
        pytest.raises(AuditLogError, match=r"dangling\.jsonl' is a symbolic link"),
    ):
        persist.save(dp.StandardScaler(), tmp_path / "model.dp", key="k" * 32)
    assert not (elsewhere / "created.jsonl").exists()
    # A failed operation keeps its own error, with a note that its record is missing.
    with (
        pytest.raises(ZeroDivisionError) as caught,
        audit.operation("fit", log=dangling),
    ):
        _ = 1 / 0
    assert "symbolic link" in caught.value.__notes__[0]
    assert sorted(p.name for p in elsewhere.iterdir()) == ["other.jsonl"]


def test_the_link_is_refused_by_the_open_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """O_NOFOLLOW: a link made after the check (here: a check that sees none) is refused
    by the open, not followed."""
    other = tmp_path / "other.jsonl"
    other.write_bytes(b"")
    link = tmp_path / "audit.jsonl"
    link.symlink_to(other)
    real_is_symlink = Path.is_symlink
    calls: list[Path] = []

    def blind_once(self: Path) -> bool:
        calls.append(self)
        return False if len(calls) == 1 else real_is_symlink(self)

    monkeypatch.setattr(Path, "is_symlink", blind_once)
    with pytest.raises(AuditLogError, match="is a symbolic link"), audit.operation("fit", log=link):
        pass
    assert other.read_bytes() == b""


def test_the_log_must_be_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "audit.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(AuditLogError, match="not a regular file"), audit.operation("fit", log=fifo):
        pass


def test_a_log_another_user_made_first_or_all_may_write_is_refused(tmp_path: Path) -> None:
    """In a shared folder, another user could create the log first, then rewrite its records
    or hold its lock; a log all users may write is the same."""
    shared = tmp_path / "open.jsonl"
    shared.touch()
    shared.chmod(0o666)
    with (
        pytest.raises(audit.AuditLogError, match="all users may write"),
        audit.operation("fit", log=shared),
    ):
        pass
    if os.geteuid() == 0:
        theirs = tmp_path / "theirs.jsonl"
        theirs.touch(mode=0o600)
        os.chown(theirs, 65534, 65534)
        with (
            pytest.raises(audit.AuditLogError, match="another user"),
            audit.operation("fit", log=theirs),
        ):
            pass
        assert theirs.read_bytes() == b""
