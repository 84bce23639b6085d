"""Keys never leak: a distinctive key planted on every path comes out nowhere.

The key is given as ``str``, ``bytes``, ``bytearray`` and ``memoryview``, through
``$DASKPAR_MODEL_KEY`` and through a ``$DASKPAR_MODEL_KEY_FILE`` key file, to every function
that takes one (save, load with the right key and a wrong one, describe, dumps and loads,
signing_key_id), to fits and searches that write checkpoints, under the audit log, and to the
command line (train with --save, --checkpoint, --report and --audit; score; predict; audit show
and verify), failing calls included: a key too short, a wrong key, a key of a wrong type. Then
every message (``str`` and ``repr`` of each exception, its arguments, notes and whole chain,
and the traceback as printed), every record of the audit log, the report, the checkpoints, the
model files and every output of the commands are searched for the key: its bytes, any 12 of
them in a row, and their hexadecimal and base64 forms.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pytest
from click.testing import CliRunner
from daskpar_testing import everything_shown
from sklearn.linear_model import SGDClassifier

import daskpar as dp
from daskpar import audit, persist

#: The keys planted: the right one, a wrong one, and one too short. Each is a secret.
SECRET = "dpk-canary-7Qx2Lm9Vw4Rt8Kp3Zs6Hn"
WRONG = "dpk-wrongk-3Fh8Jq1Mz5Xc7Vb2Nw4Pd"
SHORT = "dpk-shrt-9Ze"  # 12 bytes: refused
SECRETS = (SECRET, WRONG, SHORT)
#: The keys of a wrong type that the parameter check refuses.
BAD_TYPES: dict[str, Callable[[str], Any]] = {
    "list": lambda s: [s],
    "tuple": lambda s: (s,),
    "dict": lambda s: {"key": s},
    "numpy": lambda s: np.frombuffer(s.encode(), dtype=np.uint8),
    "int": lambda s: int.from_bytes(s.encode(), "big"),
}
#: The ways a key argument is given.
FORMS: dict[str, Callable[[str], Any]] = {
    "str": lambda s: s,
    "bytes": lambda s: s.encode(),
    "bytearray": lambda s: bytearray(s.encode()),
    "memoryview": lambda s: memoryview(bytearray(s.encode())),
}
KEY_VARIABLES = (
    persist.KEY_ENV,
    persist.KEY_FILE_ENV,
    persist.ENCRYPTION_KEY_ENV,
    persist.ENCRYPTION_KEY_FILE_ENV,
)
#: A run of this many bytes of a key is a leak.
WINDOW = 12


def _patterns(secret: str) -> list[tuple[str, re.Pattern[bytes]]]:
    """What a leak of ``secret`` looks like, as (form, pattern) pairs."""
    raw = secret.encode()
    windows = sorted({raw[i : i + WINDOW] for i in range(len(raw) - WINDOW + 1)})
    out = [("bytes", re.escape(w)) for w in windows]
    out += [("hex", re.escape(w.hex().encode())) for w in windows]
    out += [("HEX", re.escape(w.hex().upper().encode())) for w in windows]
    for shift in range(3):  # base64 at each alignment, without its last, partial quantum
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            text = encode(raw[shift:])[:-4]
            if len(text) >= 16:
                out.append((name, re.escape(text)))
    # The bytes as numbers: a numpy array's or a list's repr (any spacing).
    out.append(("numbers", rb"\b" + rb",\s*".join(str(b).encode() for b in raw[:6]) + rb"\b"))
    # The number whose bytes the key is.
    out.append(("int", str(int.from_bytes(raw, "big"))[:20].encode()))
    return [(form, re.compile(pattern)) for form, pattern in out]


PATTERNS = {secret: _patterns(secret) for secret in SECRETS}


class Scan:
    """Texts and files searched for the secrets; :meth:`assert_clean` names each leak."""

    def __init__(self) -> None:
        self.searched = 0
        self.leaks: list[str] = []
        self.errors: dict[str, str] = {}

    def text(self, where: str, text: str | bytes) -> None:
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        self.searched += 1
        for secret, patterns in PATTERNS.items():
            for form, pattern in patterns:
                if pattern.search(data):
                    self.leaks.append(f"{where}: the key {secret[:4]}… as {form}")
                    break

    def error(self, where: str, error: BaseException) -> None:
        self.errors[where] = f"{type(error).__name__}: {error}"
        self.text(f"{where} (the error)", everything_shown(error))

    def call(self, where: str, function: Callable[[], Any]) -> Any:
        """``function()``, its result or its error searched."""
        try:
            result = function()
        except Exception as error:
            self.error(where, error)
            return None
        self.text(f"{where} (the result)", repr(result))
        return result

    def files(self, root: Path, *, but: Sequence[Path] = ()) -> None:
        """Every file under ``root`` (but the key files ``but``), and every name."""
        for path in sorted(root.rglob("*")):
            self.text(f"the name {path}", str(path))
            if path.is_file() and not path.is_symlink() and path not in but:
                self.text(str(path.relative_to(root)), path.read_bytes())

    def assert_clean(self, at_least: int) -> None:
        assert self.leaks == [], "\n".join(self.leaks)
        assert self.searched >= at_least, f"only {self.searched} texts were searched"


@pytest.fixture(autouse=True)
def _no_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A key file for each secret, in a folder of its own (which is not searched)."""
    folder = tmp_path_factory.mktemp("keys")
    files = {}
    for secret in SECRETS:
        files[secret] = folder / f"key{len(files)}"
        files[secret].write_text(secret + "\n")
        files[secret].chmod(0o600)
    return files


@contextmanager
def key_set(
    monkeypatch: pytest.MonkeyPatch, how: str, secret: str, files: dict[str, Path]
) -> Iterator[None]:
    """``secret`` as the model key of the environment: in the variable, or in a key file."""
    with monkeypatch.context() as m:
        if how == "env":
            m.setenv(persist.KEY_ENV, secret)
            m.setenv(persist.ENCRYPTION_KEY_ENV, secret)
        else:
            m.setenv(persist.KEY_FILE_ENV, str(files[secret]))
            m.setenv(persist.ENCRYPTION_KEY_FILE_ENV, str(files[secret]))
        yield


# --------------------------------------------------------------------------------------------
# The library


def _model_paths(scan: Scan, folder: Path, where: str, **key: Any) -> None:
    """Save (plain and encrypted), describe, load, dumps, loads and signing_key_id, with the
    right key as ``key`` arguments (none when it is in the environment): each succeeds."""
    scaler = dp.StandardScaler().fit(np.arange(8.0).reshape(4, 2))
    plain, secret = folder / f"{where}-plain.dp", folder / f"{where}-secret.dp"
    scan.call(f"{where}: save", lambda: persist.save(scaler, plain, **key))
    scan.call(f"{where}: save encrypted", lambda: scaler.save(secret, encrypt=True, **key))
    scan.call(f"{where}: describe", lambda: persist.describe(secret))
    for path in (plain, secret):
        loaded = scan.call(f"{where}: load {path.name}", lambda p=path: persist.load(p, **key))
        assert loaded is not None, scan.errors
    body = scan.call(f"{where}: dumps", lambda: persist.dumps(scaler, **key))
    assert body is not None, scan.errors
    assert body[1], "not signed"
    scan.call(f"{where}: loads", lambda: persist.loads(body[0], name="bytes", **key))
    scan.call(f"{where}: signing_key_id", lambda: persist.signing_key_id(**key))


def _wrong_key_paths(scan: Scan, folder: Path, where: str, **wrong: Any) -> None:
    """Loads of the files of :func:`_model_paths` with a wrong key: each refused."""
    for name in (f"{where}-plain.dp", f"{where}-secret.dp", "unsigned.dp"):
        scan.call(
            f"{where}: load {name} with a wrong key", lambda n=name: dp.load(folder / n, **wrong)
        )
    body = persist.dumps(dp.StandardScaler(), key=SECRET)[0]
    scan.call(f"{where}: loads with a wrong key", lambda: persist.loads(body, name="b", **wrong))


def test_no_key_leaks_from_the_library(
    tmp_path: Path, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    scan = Scan()
    out = tmp_path / "out"
    out.mkdir()
    log = out / "audit.jsonl"
    persist.save(dp.StandardScaler(), out / "unsigned.dp")
    with dask.config.set({audit.CONFIG_KEY: str(log)}):
        for form, make in FORMS.items():
            _model_paths(scan, out, form, key=make(SECRET))
            _wrong_key_paths(scan, out, form, key=make(WRONG))
            encrypted = out / f"{form}-secret.dp"
            scan.call(
                f"{form}: a wrong encryption_key",
                lambda p=encrypted, m=make: persist.load(p, key=m(SECRET), encryption_key=m(WRONG)),
            )
            scan.call(f"{form}: a short key", lambda m=make: persist.signing_key_id(m(SHORT)))
            scan.call(
                f"{form}: a short key on save",
                lambda m=make: persist.save(dp.StandardScaler(), out / "short.dp", key=m(SHORT)),
            )
            scan.call(
                f"{form}: a short encryption key",
                lambda m=make: persist.save(
                    dp.StandardScaler(),
                    out / "short.dp",
                    key=SECRET,
                    encrypt=True,
                    encryption_key=m(SHORT),
                ),
            )
        for how in ("env", "key file"):
            with key_set(monkeypatch, how, SECRET, keys):
                _model_paths(scan, out, how.replace(" ", "-"))
            with key_set(monkeypatch, how, WRONG, keys):
                _wrong_key_paths(scan, out, how.replace(" ", "-"))
            with key_set(monkeypatch, how, SHORT, keys):
                scan.call(
                    f"{how}: a short key", lambda: persist.save(dp.StandardScaler(), out / "s.dp")
                )
        # The key put in the variable that names a key file.
        with monkeypatch.context() as m:
            m.setenv(persist.KEY_FILE_ENV, SECRET)
            scan.call("the key as a key file's name", lambda: persist.signing_key_id())
            scan.call("the key as a key file's name, on load", lambda: dp.load(out / "unsigned.dp"))
        # Keys of a wrong type, to every function that takes one: the parameter check.
        calls: dict[str, Callable[[Any], Any]] = {
            "save": lambda k: persist.save(dp.StandardScaler(), out / "t.dp", key=k),
            "save encryption_key": lambda k: persist.save(
                dp.StandardScaler(), out / "t.dp", key=SECRET, encrypt=True, encryption_key=k
            ),
            "load": lambda k: persist.load(out / "str-plain.dp", key=k),
            "load encryption_key": lambda k: persist.load(out / "str-secret.dp", encryption_key=k),
            "dumps": lambda k: persist.dumps(dp.StandardScaler(), key=k),
            "loads": lambda k: persist.loads(b"", name="b", key=k),
            "signing_key_id": lambda k: persist.signing_key_id(k),
            "the save method": lambda k: dp.StandardScaler().save(out / "t.dp", key=k),
        }
        for name, call in calls.items():
            for kind, make in BAD_TYPES.items():
                scan.call(f"{name} with a {kind} key", lambda c=call, m=make: c(m(SECRET)))
        # Text that is not UTF-8 (a lone surrogate).
        scan.call("a key with a lone surrogate", lambda: persist.signing_key_id(SECRET + "\udc80"))
        # The reported case: a key refused inside an operation the audit log records.
        model = dp.StandardScaler().fit(np.arange(8.0).reshape(4, 2))

        def save_in_an_operation() -> None:
            with audit.operation("fit", estimator=model):
                model.save(out / "op.dp", key=BAD_TYPES["tuple"](SECRET))

        scan.call("a key refused inside a recorded operation", save_in_an_operation)
    assert {"InvalidParameterError", "ModelKeyError", "ModelSignatureError"} <= {
        e.split(":")[0] for e in scan.errors.values()
    }, scan.errors
    records = audit.read(log)
    assert {r["status"] for r in records} == {"ok", "failed"}
    scan.files(out)
    scan.assert_clean(at_least=150)


@pytest.mark.parametrize("how", ["env", "key file"])
def test_no_key_leaks_from_checkpoints(
    how: str, tmp_path: Path, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ParallelIncremental's and GridSearchCV's checkpoints, written with the key set, and
    resumed with it, with a wrong one, and with one too short."""
    scan = Scan()
    out = tmp_path / "out"
    out.mkdir()
    X, y = dp.make_classification(n_samples=400, n_features=4, chunks=100, random_state=0)

    def fit() -> None:
        dp.ParallelIncremental(
            SGDClassifier(random_state=0), epochs=2, random_state=0, checkpoint=out / "fit"
        ).fit(X, y)

    def search() -> None:
        dp.GridSearchCV(
            dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=1, random_state=0),
            {"estimator__alpha": [1e-4, 1e-3]},
            cv=2,
            checkpoint=out / "search",
        ).fit(X, y)

    runs = [
        (SECRET, "written"),
        (SECRET, "resumed"),
        (WRONG, "a wrong key"),
        (SHORT, "a short key"),
    ]
    with dask.config.set({audit.CONFIG_KEY: str(out / "audit.jsonl")}):
        for secret, what in runs:
            with key_set(monkeypatch, how, secret, keys):
                scan.call(f"{how}: a fit's checkpoint, {what}", fit)
                scan.call(f"{how}: a search's checkpoint, {what}", search)
    # Written and resumed with the key; what the others did is the checkpoints' business.
    assert not any("written" in where or "resumed" in where for where in scan.errors), scan.errors
    assert (out / "fit").is_dir()
    assert (out / "search").is_dir()
    scan.files(out)
    scan.assert_clean(at_least=8)


# --------------------------------------------------------------------------------------------
# The command line

EXE = str(Path(sys.executable).with_name("daskpar"))
#: The embedded cluster, as small as it goes.
LOCAL = ("--workers", "1", "--dashboard-port", "0")


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed console script, with the key variables ``env`` and no others."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DASK_", "DASKPAR_"))}
    return subprocess.run(
        [EXE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**clean, **env},
        cwd=cwd,
        check=False,
    )


def invoke(*args: str, env: dict[str, str]) -> tuple[str, str, int, BaseException | None]:
    """The command in this process (no cluster starts: it is faster), with the key
    variables ``env`` and no others; stdout, stderr, the exit status, and an error that
    escaped the command."""
    from daskpar._cli import main

    unset: dict[str, str | None] = dict.fromkeys(KEY_VARIABLES)
    result = CliRunner().invoke(main, list(args), env={**unset, **env})
    escaped = None if isinstance(result.exception, SystemExit | None) else result.exception
    return result.stdout, result.stderr, result.exit_code, escaped


# Every command as a process, a minute on two cores: in the slow suite, which CI runs.
@pytest.mark.slow
def test_no_key_leaks_from_the_command_line(tmp_path: Path, keys: dict[str, Path]) -> None:
    """Each command that starts a cluster runs once, as the user runs it (a process of its
    own, whose workers print to its stderr); the commands refused before any cluster starts,
    and those that need none, run in this process."""
    scan = Scan()
    out = tmp_path / "out"
    out.mkdir()
    data, model, log, ck = (out / n for n in ("d.zarr", "m.dp", "audit.jsonl", "ck"))
    X, y = dp.make_classification(n_samples=2000, n_features=4, chunks=500, random_state=0)
    dp.write_zarr(data, X, y)
    in_env = {persist.KEY_ENV: SECRET}
    in_file = {persist.KEY_FILE_ENV: str(keys[SECRET])}
    score = ("score", str(model), str(data), "--audit", str(log))
    predict = ("predict", str(model), str(data), "--audit", str(log), "--out")
    with_a_cluster: list[tuple[str, tuple[str, ...], dict[str, str], int]] = [
        (
            "train",
            ("train", str(data), "--epochs", "1", "--save", str(model), "--encrypt",
             "--checkpoint", str(ck), "--report", str(out / "report.html"), "--audit", str(log),
             *LOCAL),
            in_env,
            0,
        ),
        ("score", (*score, *LOCAL), in_file, 0),
        ("predict", (*predict, str(out / "p.zarr"), *LOCAL), in_env, 0),
        # A run refused when it writes with the key: its checkpoint, or its model file.
        (
            "train, a short key",
            ("train", str(data), "--epochs", "1", "--save", str(out / "short.dp"),
             "--checkpoint", str(out / "ck-short"), "--audit", str(log), *LOCAL),
            {persist.KEY_ENV: SHORT},
            1,
        ),
    ]  # fmt: skip
    for where, args, env, status in with_a_cluster:
        result = run(*args, env=env, cwd=out)
        scan.text(f"{where}: stdout", result.stdout)
        scan.text(f"{where}: stderr", result.stderr)
        assert result.returncode == status, f"{where}: {result.stderr}"
        if status:
            assert "Traceback" not in result.stderr, f"{where}: {result.stderr}"
    without: list[tuple[str, tuple[str, ...], dict[str, str], int]] = [
        # Refused before any cluster starts: a wrong key, in each place, and a short one.
        ("score, a wrong key", score, {persist.KEY_ENV: WRONG}, 1),
        ("score, a wrong key file", score, {persist.KEY_FILE_ENV: str(keys[WRONG])}, 1),
        ("score, a short key", score, {persist.KEY_ENV: SHORT}, 1),
        (
            "score, a short key file, --allow-unsigned",
            (*score, "--allow-unsigned"),
            {persist.KEY_FILE_ENV: str(keys[SHORT])},
            1,
        ),
        (
            "predict, a wrong encryption key",
            (*predict, str(out / "q.zarr")),
            {**in_env, persist.ENCRYPTION_KEY_ENV: WRONG},
            1,
        ),
        ("audit show", ("audit", "show", str(log)), in_env, 0),
        ("audit verify", ("audit", "verify", str(log)), in_file, 0),
    ]
    for where, args, env, status in without:
        stdout, stderr, code, escaped = invoke(*args, env=env)
        scan.text(f"{where}: stdout", stdout)
        scan.text(f"{where}: stderr", stderr)
        if escaped is not None:
            scan.error(where, escaped)
        assert (code, escaped) == (status, None), f"{where}: {stderr} {escaped!r}"
        if status:
            assert stderr.startswith("Error: "), f"{where}: {stderr}"
    assert not (out / "short.dp").exists()
    operations = [(r["operation"], r["status"]) for r in audit.read(log)]
    assert ("save", "ok") in operations
    assert ("load", "failed") in operations
    assert (out / "report.html").is_file()
    scan.files(out)
    scan.assert_clean(at_least=30)
