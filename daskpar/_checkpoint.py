"""Checkpoints: the state of a fit or a search after every epoch, to resume from.

A checkpoint is one file, ``<folder>/checkpoint.skops``, written after every pass under a
temporary name and renamed into place, so that a client killed at any moment leaves either the
previous checkpoint or the new one, never half of one. It holds the models as a model file
does (skops, with the types :func:`daskpar.persist.trusted_types` allows: nothing is
unpickled), plus JSON: what made it (the estimator's class and parameters, the data's shape,
chunks and dtypes, and a content digest of every block), and where the run was (the epoch, the
history, the seeds).

The data are identified by content, never by dask names (``from_zarr`` names an array by its
path, so a store rewritten in place keeps its name): the first pass of a run digests every
block it reads (X, y, and the sample weights and validation rows when given), inside the
training task, and the checkpoint keeps those digests (:class:`~daskpar._pass.DataCheck`).

Rerunning the same call finds the checkpoint, checks that it was made by the same parameters
on data of the same shape, chunks and dtypes (on the client, before any task), and goes on
after its last epoch: its first pass checks every block against its digest, in the task,
before the block's update is merged. Any difference is refused with a message that says
which (for the content: which block, its rows, and which arrays changed). A finished run
leaves its last checkpoint: rerunning it reads every block once to check it, and returns the
same model without training.

The file is a daskpar model file (:func:`daskpar.persist.dumps`): when the model key is set
(``DASKPAR_MODEL_KEY`` or ``DASKPAR_MODEL_KEY_FILE``), it is signed, and a resumed run checks
the signature, so that a checkpoint edited between two runs (to poison the model that the
resumed run signs in turn) is refused. Without a key a checkpoint is not authenticated:
anyone who can write its folder can change what a resumed run starts from. A symbolic link,
a hard-linked file, or a refit folder that leads elsewhere is refused either way: a
checkpoint is read only from the folder it was named by.

A checkpoint folder may be an object store's URL (``s3://bucket/run``, a
:class:`RemoteFolder`): there is no rename there, and none is needed, since S3 (as GCS and
Azure Blob) makes an object visible whole once its upload completes; the checkpoint is one
object, written by one PUT, so a client killed mid-write leaves the previous one. The store's
credentials come from the environment (``AWS_*`` variables, instance roles), never from
the estimator's parameters, which model files and audit records keep. Ownership and link
checks are the bucket policy's business there.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
from sklearn.base import BaseEstimator

from ._graph import fan_in
from ._io._remote import StorageOptions, filesystem, is_remote, remote_location
from ._pass import DataCheck
from .audit import printable
from .errors import CheckpointError
from .persist import (
    ModelFileError,
    ModelKeyError,
    ModelSignatureError,
    dumps,
    loads,
    signing_key_id,
    write_atomically,
)

__all__ = [
    "FILE_NAME",
    "REFIT_FOLDER",
    "Checkpoint",
    "RemoteFolder",
    "data_of",
    "discard",
    "is_ours",
    "parameters_of",
    "plain",
    "records",
]

#: The checkpoint's file inside its folder.
FILE_NAME = "checkpoint.skops"
#: The folder, inside a search's, of its refit's checkpoint.
REFIT_FOLDER = "refit"
_FORMAT = "daskpar-checkpoint"
_VERSION = 3  # 2: a daskpar model file, signed when a key is set; 3: block digests, no names
#: Parameters that change how a run reports or recovers, not what it computes.
_IGNORED = {"verbose", "checkpoint", "retries"}


def plain(value: Any) -> Any:
    """``value`` as JSON can hold it, for comparing parameters."""
    if isinstance(value, BaseEstimator):
        return {"class": type(value).__name__, "params": parameters_of(value)}
    if isinstance(value, np.random.RandomState):
        # Its state changes as it is used: the run's seeds are kept in the checkpoint.
        return "RandomState"
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # "nan" equals "nan"; NaN does not equal NaN
    if value is None or isinstance(value, bool | int | float | str):
        return value
    dist = getattr(value, "dist", None)
    if dist is not None and hasattr(value, "args") and hasattr(value, "kwds"):
        # A frozen scipy.stats distribution, whose repr holds its address in memory.
        return {
            "distribution": getattr(dist, "name", type(dist).__name__),
            "args": plain(list(value.args)),
            "kwds": plain(value.kwds),
        }
    shown = repr(value)
    if " at 0x" in shown:
        # Its repr holds its address in memory, new in every process (a generator of folds):
        # compared by its type; what it made (the folds) is kept and compared apart.
        return {"object": f"{type(value).__module__}.{type(value).__qualname__}"}
    return shown


def records(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A fit's ``history_`` records with numpy scalars as Python numbers (JSON keeps NaN)."""
    return [
        {k: v.item() if isinstance(v, np.generic) else v for k, v in record.items()}
        for record in history
    ]


def parameters_of(estimator: BaseEstimator) -> dict[str, Any]:
    """``estimator``'s parameters as JSON values, without those that only change reporting."""
    params = estimator.get_params(deep=False)
    return {k: plain(v) for k, v in sorted(params.items()) if k not in _IGNORED}


def data_of(X: da.Array, y: da.Array | None, *others: da.Array | None) -> dict[str, Any]:
    """What the client can check of the data before any task: the shape, row chunks and dtypes
    of ``X`` and ``y`` (None for an unsupervised fit), and the shape, row chunks and dtype of
    each of ``others`` (sample weights, validation data; ``None`` if not given).

    Dask names are left out: they do not follow the content (``from_zarr`` names an array by
    its path), and ``from_array`` of an object dask cannot hash gets a new one in every
    process. The content is identified by the blocks' digests (:attr:`Checkpoint.blocks`).
    """

    def described(a: da.Array | None) -> dict[str, Any] | None:
        if a is None:
            return None
        return {
            "shape": [int(s) for s in a.shape],
            "chunks": [int(c) for c in a.chunks[0]],
            "dtype": str(a.dtype),
        }

    return {
        "shape": [int(s) for s in X.shape],
        "chunks": [int(c) for c in X.chunks[0]],
        "dtypes": [str(X.dtype), None if y is None else str(y.dtype)],
        "others": [described(a) for a in others],
    }


@dataclass(frozen=True)
class RemoteFolder:
    """A checkpoint folder in an object store: a URL prefix (shown without any user or
    password), and the options that reach it (a URL's own user and password, else none:
    the store library reads the environment). Path-like: ``folder / "refit"`` is a folder
    inside it, and ``os.fspath`` gives the URL."""

    url: str
    options: StorageOptions = field(default_factory=lambda: StorageOptions({}), compare=False)

    def __truediv__(self, name: str) -> RemoteFolder:
        return RemoteFolder(f"{self.url}/{name}", self.options)

    def __fspath__(self) -> str:
        return self.url

    def __str__(self) -> str:
        return self.url

    def _error(self, doing: str, exc: BaseException) -> CheckpointError:
        return CheckpointError(
            f"Cannot {doing} the checkpoint in {self.url!r}: "
            f"{self.options.scrub(f'{type(exc).__name__}: {exc}')}. Check the URL, and the "
            "store's credentials in the environment."
        )

    def read(self, name: str) -> bytes | None:
        """The object ``name`` in this folder, or None if there is none."""
        fs, inner = filesystem(self.url, self.options)
        try:
            data: bytes = fs.cat_file(f"{inner}/{name}")
        except FileNotFoundError:
            return None
        except Exception as exc:  # credentials refused, network
            raise self._error("read", exc) from None
        return data

    def write(self, name: str, data: bytes) -> None:
        """Store ``data`` as the object ``name``: one upload, visible whole or not at all."""
        fs, inner = filesystem(self.url, self.options)
        try:
            fs.pipe_file(f"{inner}/{name}", data)
        except Exception as exc:  # credentials refused, network
            raise self._error("write", exc) from None

    def remove(self, name: str) -> None:
        fs, inner = filesystem(self.url, self.options)
        try:
            if fs.exists(f"{inner}/{name}"):
                fs.rm_file(f"{inner}/{name}")
        except Exception as exc:  # credentials refused, network
            raise self._error("delete", exc) from None


def checkpoint_folder(folder: str | os.PathLike[str]) -> Path | RemoteFolder:
    """The folder a ``checkpoint`` parameter names: a local one, checked to be the user's
    own (:func:`_own_folder`), or an object store's (:class:`RemoteFolder`)."""
    if isinstance(folder, RemoteFolder):
        return folder
    if is_remote(folder):
        url, options = remote_location(folder, None, "checkpoint")
        return RemoteFolder(url, options)
    return _own_folder(Path(folder))


def is_ours(folder: Path) -> bool:
    """Whether ``folder`` holds nothing but daskpar checkpoints: its own file, the temporary
    files of unfinished writes, and a search's ``refit`` folder of the same (none of them a
    symbolic link)."""
    for entry in folder.iterdir():
        if entry.is_symlink():
            return False
        if entry.name == REFIT_FOLDER and entry.is_dir():
            if not is_ours(entry):
                return False
        elif entry.name != FILE_NAME and not entry.name.startswith(f".{FILE_NAME}.tmp-"):
            return False
    return True


def discard(folder: Path | RemoteFolder) -> None:
    """Delete the checkpoints in ``folder`` (and its refit's), to start over; refuses a
    folder that holds anything else (in an object store, only the checkpoints are deleted)."""
    if isinstance(folder, RemoteFolder) or is_remote(folder):
        remote = checkpoint_folder(folder)
        assert isinstance(remote, RemoteFolder)  # a URL makes one
        remote.remove(FILE_NAME)
        (remote / REFIT_FOLDER).remove(FILE_NAME)
        return
    if not folder.is_dir():
        return
    if not is_ours(folder):
        raise CheckpointError(
            f"The checkpoint folder {os.fspath(folder)!r} holds files but no daskpar checkpoint "
            f"({FILE_NAME}); daskpar does not write into it, nor delete them. Pass an empty or "
            "new folder."
        )
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()


def _own_folder(folder: Path) -> Path:
    """``folder``, resolved, refused if it is a link or, when it exists, another user's or
    writable by others: whoever can write it can replace, read or link the checkpoint."""
    if folder.is_symlink():
        raise CheckpointError(
            f"The checkpoint folder {os.fspath(folder)!r} is a symbolic link (to "
            f"{os.readlink(folder)!r}); daskpar reads and writes checkpoints only in a folder "
            "named as itself. Pass the folder it leads to, or a new one."
        )
    resolved = folder.resolve()
    if resolved.exists():
        info = resolved.stat()
        if info.st_uid != os.geteuid() or info.st_mode & stat.S_IWOTH:
            raise CheckpointError(
                f"The checkpoint folder {os.fspath(folder)!r} belongs to another user (uid "
                f"{info.st_uid}) or all users may write it (mode {info.st_mode & 0o777:o}): "
                "they could replace or read the checkpoint. Pass a folder of your own."
            )
    return resolved


@dataclass
class Checkpoint:
    """The checkpoint of one run in ``folder``: made by ``kind`` with ``params`` on ``data``.

    ``blocks`` holds the content digest of every block, ``{array: digest}`` per block, as the
    run's first pass recorded them (:meth:`record`) or as :meth:`load` found them: about 45
    bytes per array and block in the file (a 10,000-block run with sample weights: 1.4 MB).
    """

    folder: Path | RemoteFolder
    kind: str
    params: dict[str, Any]
    data: dict[str, Any]
    # What else decides the bits: the tree's fan-in, and the libraries that compute.
    environment: dict[str, Any]
    blocks: list[dict[str, str]] | None = None

    @classmethod
    def of(
        cls,
        folder: str | os.PathLike[str],
        estimator: BaseEstimator,
        X: da.Array,
        y: da.Array | None,
        *others: da.Array | None,
    ) -> Checkpoint:
        from importlib import metadata

        versions = {name: metadata.version(name) for name in ("daskpar", "scikit-learn", "numpy")}
        split_every = getattr(estimator, "split_every", None)
        return cls(
            checkpoint_folder(folder),
            type(estimator).__name__,
            parameters_of(estimator),
            data_of(X, y, *others),
            {"split_every": fan_in(split_every), "versions": versions},
        )

    @property
    def path(self) -> Path | RemoteFolder:
        return self.folder / FILE_NAME

    def data_check(self) -> DataCheck:
        """What the run's first pass does with the blocks' digests: record them (no
        checkpoint yet), or check every block against them (resuming)."""
        expected = None if self.blocks is None else tuple(self.blocks)
        return DataCheck(os.fspath(self.folder), expected)

    def record(self, digests: Mapping[int, Mapping[str, str]]) -> None:
        """Keep the digests a pass recorded (``{block: {array: digest}}``), for every save."""
        n_blocks = len(self.data["chunks"])
        if sorted(digests) != list(range(n_blocks)):
            raise CheckpointError(
                f"The first pass digested blocks {sorted(digests)} of {n_blocks}: a checkpoint "
                "needs every block's. This is a bug in daskpar; please report it."
            )
        self.blocks = [dict(digests[i]) for i in range(n_blocks)]

    def refused(self, made_with: str, advice: str | None = None) -> CheckpointError:
        """The error for this checkpoint, found to be made with ``made_with`` (other classes,
        other folds) by the caller's own check."""
        advice = advice or "Delete it (or pass another checkpoint folder) to start over."
        return CheckpointError(
            f"The checkpoint in {os.fspath(self.folder)!r} was made with {made_with}. {advice}"
        )

    @property
    def authenticated(self) -> bool:
        """Whether this run signs its checkpoints and checks them on resume (a key is set)."""
        return signing_key_id() is not None

    def load(self) -> dict[str, Any] | None:
        """The saved state, or ``None`` when there is none; refuses another run's, and one
        whose signature does not hold (with a key set) or that is reached through a link."""
        if isinstance(self.folder, RemoteFolder):
            remote = self.folder.read(FILE_NAME)
            if remote is None:
                return None
            return self._parse(remote, f"The checkpoint {os.fspath(self.path)!r}")
        local = self.path
        assert isinstance(local, Path)  # a local folder's
        self._remove_leftovers()
        if local.is_symlink() or not local.exists():
            self._refuse_links()
            if self.folder.is_dir() and not is_ours(self.folder):
                raise CheckpointError(
                    f"The checkpoint folder {os.fspath(self.folder)!r} holds files but no "
                    f"daskpar checkpoint ({FILE_NAME}); daskpar does not write into it. Pass "
                    "an empty or new folder."
                )
            if self.folder.exists() and not self.folder.is_dir():
                raise CheckpointError(
                    f"The checkpoint folder {os.fspath(self.folder)!r} is a file. Pass a folder."
                )
            return None
        where = f"The checkpoint {os.fspath(self.path)!r}"
        return self._parse(self._read(where), where)

    def _parse(self, data: bytes, where: str) -> dict[str, Any]:
        """The state in a checkpoint file's bytes, checked to be this run's."""
        key_set = self.authenticated
        try:
            # With a key, only a checkpoint signed with it; without one, only an unsigned one.
            saved = loads(data, name=where, allow_unsigned=not key_set)
            meta = json.loads(saved["meta"])
        except (ModelSignatureError, ModelKeyError) as error:
            raise CheckpointError(
                f"{error} A checkpoint is resumed only as it was written"
                + (" and signed" if key_set else "")
                + f": delete {os.fspath(self.folder)!r} to start over, or set the key it was "
                "signed with."
            ) from None
        except ModelFileError as error:
            raise CheckpointError(
                f"{where} cannot be read as a checkpoint: {error} Delete it to start over."
            ) from None
        except (KeyError, TypeError, ValueError, RecursionError) as error:
            raise CheckpointError(
                f"{where} cannot be read ({type(error).__name__}). Delete it to start over."
            ) from None
        try:
            return self._state_of(meta, saved, where)
        except CheckpointError as error:  # its text may hold the file's strings: escaped
            raise CheckpointError(printable(str(error))) from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise CheckpointError(
                f"{where} is damaged: its contents are not what daskpar writes "
                f"({type(error).__name__}). Delete {os.fspath(self.folder)!r} to start over."
            ) from None

    def _state_of(self, meta: Any, saved: Any, where: str) -> dict[str, Any]:
        """The state in a checkpoint's parsed ``meta``, checked to be this run's."""
        if not isinstance(meta, dict):
            raise TypeError("the checkpoint's description is not an object")
        if meta.get("format") != _FORMAT or meta.get("version") != _VERSION:
            raise CheckpointError(
                f"{where} is not a daskpar checkpoint of this version. Delete "
                f"{os.fspath(self.folder)!r} to start over."
            )
        self._check(meta, where)
        blocks = meta.get("blocks")
        if not (
            isinstance(blocks, list)
            and len(blocks) == len(self.data["chunks"])
            and all(
                isinstance(b, dict) and all(isinstance(v, str) for v in b.values()) for b in blocks
            )
        ):
            raise CheckpointError(
                f"{where} holds no digest of every block of its data. Delete "
                f"{os.fspath(self.folder)!r} to start over."
            )
        self.blocks = blocks
        state: dict[str, Any] = meta["state"]
        state["objects"] = saved["objects"]
        return state

    def _refuse_links(self) -> None:
        """Refuse a checkpoint file, or a refit folder, that is a symbolic link: it would
        resume from, or write to, a place that the folder given does not hold."""
        assert isinstance(self.folder, Path)  # object stores have no links
        for path in (self.folder / FILE_NAME, self.folder / REFIT_FOLDER):
            if path.is_symlink():
                raise CheckpointError(
                    f"{os.fspath(path)!r} is a symbolic link (to {os.readlink(path)!r}); "
                    "daskpar reads and writes checkpoints only inside the folder it is given. "
                    "Remove the link, or pass the folder it leads to."
                )

    def _read(self, where: str) -> bytes:
        """The checkpoint's bytes, from a regular file of this folder with no other name."""
        self._refuse_links()
        try:
            # Non-blocking: a FIFO put there opens at once (and is refused below).
            fd = os.open(os.fspath(self.path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as error:  # a link made since, or unreadable
            raise CheckpointError(f"{where} cannot be read ({error.strerror}).") from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise CheckpointError(
                    f"{where} is not a regular file. Delete it (or pass another checkpoint "
                    "folder) to start over."
                )
            if info.st_nlink != 1:
                raise CheckpointError(
                    f"{where} has {info.st_nlink} names (hard links): it may be another run's "
                    f"file. Delete {os.fspath(self.folder)!r} (or pass another checkpoint "
                    "folder) to start over."
                )
            return f.read()

    def _check(self, meta: dict[str, Any], where: str) -> None:
        fix = (
            f"Delete {os.fspath(self.folder)!r} (or pass another checkpoint folder) to start "
            "over; it is never reused for another run."
        )
        if meta["kind"] != self.kind:
            raise CheckpointError(f"{where} was made by {meta['kind']}, not {self.kind}. {fix}")
        saved_environment = meta["environment"]
        if saved_environment["versions"] != self.environment["versions"]:
            raise CheckpointError(
                f"{where} was made with {saved_environment['versions']}, and this run has "
                f"{self.environment['versions']}: other versions may compute other bits. {fix}"
            )
        if saved_environment["split_every"] != self.environment["split_every"]:
            raise CheckpointError(
                f"{where} was made with split_every={saved_environment['split_every']} (dask's "
                "split_every setting, with split_every=None), and this run has "
                f"{self.environment['split_every']}. {fix}"
            )
        if meta["params"] != self.params:
            changed = sorted(
                k
                for k in set(meta["params"]) | set(self.params)
                if meta["params"].get(k) != self.params.get(k)
            )
            raise CheckpointError(
                f"{where} was made with other parameters (they differ in {changed}). {fix}"
            )
        saved, now = meta["data"], self.data
        for key, what in (
            ("shape", "shape"),
            ("chunks", "row chunks"),
            ("dtypes", "dtypes"),
            ("others", "sample weights or validation data (given or not, shape, chunks, dtype)"),
        ):
            if saved[key] != now[key]:
                raise CheckpointError(
                    f"{where} was made from other data: its {what} differ. A checkpoint resumes "
                    f"only the run that made it, on the same data. {fix}"
                )

    def _remove_leftovers(self) -> None:
        """Delete the temporary files of writes that a killed client left half done."""
        if isinstance(self.folder, Path) and self.folder.is_dir():
            for leftover in self.folder.glob(f".{FILE_NAME}.tmp-*"):
                leftover.unlink(missing_ok=True)

    def save(self, state: dict[str, Any], objects: Any) -> None:
        """Write ``state`` (JSON values) and ``objects`` (estimators, arrays) atomically."""
        meta = {
            "format": _FORMAT,
            "version": _VERSION,
            "kind": self.kind,
            "params": self.params,
            "data": self.data,
            "environment": self.environment,
            "blocks": self.blocks,
            "state": state,
        }
        payload, _ = dumps({"meta": json.dumps(meta), "objects": objects})
        if isinstance(self.folder, RemoteFolder):
            self.folder.write(FILE_NAME, payload)  # one PUT: the old object or the new one
            return
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._refuse_links()
        write_atomically(self.folder / FILE_NAME, payload)
