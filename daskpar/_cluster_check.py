"""Is the cluster ready for daskpar: some workers, and the same software everywhere.

The commonest failure of a Dask cluster is not a bug of the library run on it: it is versions
that differ between the client, the scheduler and the workers (dask/distributed#1376 puts it
at "a decent fraction of the errors that we see"). A task pickled by one version of
scikit-learn and unpickled by another computes something else or fails far from its cause,
and the scheduler unpickles the graph too. Then comes a scheduler that has no workers at all,
on which a computation waits for ever, silently.

:func:`ensure_cluster_ready` guards against both, once per client and set of workers:

- :func:`wait_for_workers` waits, saying so, for a first worker, for as long as the dask
  setting ``daskpar.worker-wait`` allows (60 s by default), then raises
  :class:`NoWorkersError`, which says how to start one (a cluster that starts its workers
  when work arrives is not waited for: this process's adaptive cluster, or any cluster with
  ``daskpar.worker-wait: 0``);
- :func:`check_cluster` compares the versions of :data:`PACKAGES` on the client, the scheduler
  and every worker, as distributed's ``Client.get_versions`` reports them, and raises
  :class:`VersionMismatchError`, naming the hosts and the versions. distributed's own
  ``check=True`` only warns, and only about distributed's own dependencies, so the
  comparison is made here, on what ``get_versions`` returns. The dask setting
  ``daskpar.check-versions: false`` turns the check off, for experts.

A worker that joins later, in the middle of a fit, is checked by the worker plugin
``daskpar-versions`` that a passing check leaves on the scheduler: distributed runs its
``setup`` on every worker that joins. A worker whose versions differ from the client's logs
why, and closes itself and its nanny (distributed keeps a worker running when a plugin's
``setup`` raises, so raising alone would not keep tasks off it). Its tasks then run on the
other workers; the message is in the worker's log and among the scheduler's events (topic
``daskpar-versions``, ``client.get_events("daskpar-versions")``).

:func:`info` describes the cluster (workers, threads, memory, versions per host, TLS, the
dashboard, which paths every worker can see), for ``daskpar info`` and for notebooks.
"""

from __future__ import annotations

import contextlib
import functools
import html
import logging
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import DaskparError

__all__ = [
    "CHECK_KEY",
    "PACKAGES",
    "WAIT_KEY",
    "ClusterInfo",
    "NoWorkersError",
    "VersionMismatchError",
    "check_cluster",
    "ensure_cluster_ready",
    "info",
    "wait_for_workers",
]

#: The distributions whose versions must agree on the client, the scheduler and the workers
#: (names as ``importlib.metadata`` knows them, which is how ``get_versions`` looks them up).
PACKAGES = ("daskpar", "scikit-learn", "numpy", "dask", "distributed")
#: The dask setting that turns the version check off (``DASK_DASKPAR__CHECK_VERSIONS=False``).
CHECK_KEY = "daskpar.check-versions"
#: The dask setting that bounds the wait for a first worker (``DASK_DASKPAR__WORKER_WAIT=5s``).
WAIT_KEY = "daskpar.worker-wait"
#: Its default.
DEFAULT_WAIT = "60s"
#: The worker plugin's name, and the topic of the scheduler events of the workers it refused.
PLUGIN_NAME = TOPIC = "daskpar-versions"

logger = logging.getLogger("daskpar")

#: Per client, the sets of workers whose versions have been checked.
_CHECKED: weakref.WeakKeyDictionary[Any, set[frozenset[str]]] = weakref.WeakKeyDictionary()
#: The clients on which the check was found turned off (and its plugin removed).
_OPTED_OUT: weakref.WeakSet[Any] = weakref.WeakSet()


class VersionMismatchError(DaskparError):
    """The client, the scheduler and the workers run different versions of daskpar,
    scikit-learn, numpy, dask or distributed. The message names the hosts and the versions."""


class NoWorkersError(DaskparError):
    """The scheduler has no worker, and none joined within ``daskpar.worker-wait``."""


# --------------------------------------------------------------------------------------------
# The settings


def check_versions_enabled() -> bool:
    """The ``daskpar.check-versions`` setting (True unless set otherwise)."""
    from dask import config

    value = config.get(CHECK_KEY, True)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        # An environment variable's "false" is a string to dask; "False" is the bool.
        value = value.lower() == "true"
    if not isinstance(value, bool):
        raise ValueError(
            f"The dask setting {CHECK_KEY!r} must be True or False. Got {value!r} instead."
        )
    return value


def worker_wait() -> float:
    """The ``daskpar.worker-wait`` setting, in seconds (60 unless set otherwise)."""
    from dask import config
    from dask.utils import parse_timedelta

    value = config.get(WAIT_KEY, DEFAULT_WAIT)
    try:
        seconds = parse_timedelta(value, default="seconds")
    except (TypeError, ValueError, KeyError):
        seconds = None
    if isinstance(value, bool) or seconds is None or not 0 <= seconds < float("inf"):
        raise ValueError(
            f"The dask setting {WAIT_KEY!r} must be a duration such as '60s' or '5 minutes' "
            f"(or a number of seconds, 0 or more). Got {value!r} instead."
        )
    return float(seconds)


# --------------------------------------------------------------------------------------------
# Workers


def _worker_addresses(client: Any) -> frozenset[str]:
    """The addresses of the scheduler's workers (one small message: address -> threads)."""
    return frozenset(client.nthreads())


def wait_for_workers(
    client: Any, timeout: float | str | None = None, *, say: Callable[[str], None] | None = None
) -> int:
    """Return the number of workers of ``client``'s scheduler, waiting for a first one if
    there is none.

    The wait is announced (through ``say``, else daskpar's logger at WARNING level, which
    Python shows even when logging is not set up) and bounded.

    Parameters
    ----------
    client : distributed.Client
        A client of the scheduler.
    timeout : float or str, default=None
        How long to wait: seconds, or a duration such as ``"5 minutes"``. None takes the
        dask setting ``daskpar.worker-wait`` (60 s by default). 0 does not wait: for a
        cluster that starts workers when work arrives (an autoscaler from zero workers),
        which is not waited for either when it is this process's adaptive cluster.
    say : callable, default=None
        What prints the "waiting for workers" line (the command line passes its own).

    Returns
    -------
    int
        How many workers the scheduler has.

    Raises
    ------
    NoWorkersError
        If no worker joined in time; the message says how to start one.
    """
    from dask.utils import parse_timedelta

    present = len(_worker_addresses(client))
    seconds = worker_wait() if timeout is None else float(parse_timedelta(timeout, "seconds"))
    # A cluster that starts workers when work arrives (``cluster.adapt(minimum=0)``) would
    # never get one while nothing is submitted: no wait. An autoscaler outside this process
    # (the Kubernetes operator's, from zero) is told so by ``daskpar.worker-wait: 0``.
    adaptive = getattr(getattr(client, "cluster", None), "_adaptive", None) is not None
    if present or seconds == 0 or adaptive:
        return present
    address = client.scheduler.address
    (say or logger.warning)(
        f"waiting for workers… the scheduler at {address} has none yet (waiting up to "
        f"{seconds:g} s; the dask setting {WAIT_KEY!r} sets how long)"
    )
    try:
        client.wait_for_workers(1, timeout=seconds)
    except TimeoutError:
        raise NoWorkersError(
            f"No worker joined the scheduler at {address} within {seconds:g} s, so "
            f"nothing can run. Start one that sees the data: `dask worker {address}` (a TLS "
            "cluster's workers need the worker certificate that `daskpar certs` writes), or "
            "`docker compose up -d --scale worker=2` with daskpar's compose file. To wait "
            f"longer, set the dask setting {WAIT_KEY!r} (DASK_DASKPAR__WORKER_WAIT=5m); to "
            "submit without waiting, to a cluster that starts workers when work arrives, set "
            "it to 0."
        ) from None
    return len(_worker_addresses(client))


# --------------------------------------------------------------------------------------------
# Versions


def _packages(entry: Mapping[str, Any] | None) -> dict[str, str | None]:
    """The versions of :data:`PACKAGES` in one host's ``get_versions`` entry."""
    found = (entry or {}).get("packages") or {}
    return {name: found.get(name) for name in PACKAGES}


def _differences(
    reference: Mapping[str, str | None], hosts: Mapping[str, Mapping[str, str | None]]
) -> dict[str, dict[str | None, list[str]]]:
    """Package -> {version -> hosts} for each package whose version on a host differs from
    ``reference``'s."""
    out: dict[str, dict[str | None, list[str]]] = {}
    for name in PACKAGES:
        for host, versions in hosts.items():
            if versions.get(name) != reference.get(name):
                out.setdefault(name, {}).setdefault(versions.get(name), []).append(host)
    return out


def _shown(version: str | None) -> str:
    return "not installed" if version is None else version


def _named(hosts: list[str], most: int = 4) -> str:
    more = f" and {len(hosts) - most} more" if len(hosts) > most else ""
    return ", ".join(hosts[:most]) + more


def _mismatch_message(
    reference: Mapping[str, str | None],
    differences: Mapping[str, Mapping[str | None, list[str]]],
    where: str,
) -> str:
    lines = "; ".join(
        f"{name} {_shown(reference.get(name))} {where}, but "
        + ", ".join(f"{_shown(v)} on {_named(hosts)}" for v, hosts in by_version.items())
        for name, by_version in differences.items()
    )
    return f"The cluster does not run the same software everywhere: {lines}. {ADVICE}"


#: How to fix a mismatch, closing its message.
ADVICE = (
    "Tasks pickled on one host may fail to unpickle, or compute something else, on another. "
    "Run the client, the scheduler and every worker from one image or one environment "
    "(daskpar's compose file starts all of them from one image). To skip this check at your "
    f"own risk, set the dask setting {CHECK_KEY!r} to False (DASK_DASKPAR__CHECK_VERSIONS=False)."
)


def check_cluster(client: Any) -> dict[str, Any]:
    """Check that the client, the scheduler and every worker run the same versions of
    daskpar, scikit-learn, numpy, dask and distributed.

    The versions come from distributed's ``Client.get_versions``. Once a set of workers has
    passed, the same client and set of workers is not asked again; a passing check also
    registers a worker plugin (``daskpar-versions``), which refuses workers that join later
    with other versions. With the dask setting ``daskpar.check-versions`` False, nothing is
    checked, and that plugin is removed.

    Parameters
    ----------
    client : distributed.Client
        A client of the cluster.

    Returns
    -------
    dict
        ``get_versions``'s answer (``client``, ``scheduler``, ``workers``), or an empty dict
        when nothing was asked (the check is off, or was made already).

    Raises
    ------
    VersionMismatchError
        If a version differs; the message names the hosts and the versions, and the fix.
    """
    if not check_versions_enabled():
        if client not in _OPTED_OUT:
            # Off means off: workers joining later are not refused by an earlier check's
            # plugin either. Turned on again, the check starts afresh.
            _OPTED_OUT.add(client)
            _CHECKED.pop(client, None)
            with contextlib.suppress(ValueError):  # none registered
                client.unregister_worker_plugin(PLUGIN_NAME)
        return {}
    _OPTED_OUT.discard(client)
    workers = _worker_addresses(client)
    checked = _CHECKED.setdefault(client, set())
    if workers in checked:
        return {}
    versions = dict(client.get_versions(check=False, packages=list(PACKAGES)))
    mine = _packages(versions["client"])
    hosts = {f"the scheduler {client.scheduler.address}": _packages(versions["scheduler"])}
    hosts.update({f"worker {w}": _packages(v) for w, v in sorted(versions["workers"].items())})
    differences = _differences(mine, hosts)
    if differences:
        raise VersionMismatchError(_mismatch_message(mine, differences, "on this client"))
    client.register_plugin(_version_check_class()(mine, TOPIC, ADVICE), name=PLUGIN_NAME)
    checked.add(workers | frozenset(versions["workers"]))
    return versions


@functools.cache
def _version_check_class() -> type:
    """The worker plugin that refuses a worker whose versions differ from the client's.

    Made on first use, so that importing daskpar does not import distributed. It is made
    inside this function, and its methods use nothing of this module, so that cloudpickle
    sends the class itself rather than its name: a worker that runs another daskpar, an
    older one without this module, or none at all, can still run it and say why it leaves,
    where an import by name would fail with a ``ModuleNotFoundError``.
    """
    from distributed.diagnostics.plugin import WorkerPlugin

    class VersionCheck(WorkerPlugin):
        """Refuse a worker whose versions of ``packages`` differ from ``versions``.

        ``setup`` runs on every worker, those that join later included. On a difference it
        logs why (logger "daskpar", ERROR), records it among the scheduler's events (topic
        ``daskpar-versions``) and closes the worker and its nanny, so that no task runs
        there: a plugin whose ``setup`` raises leaves its worker running.
        """

        name = PLUGIN_NAME

        def __init__(self, versions: Mapping[str, str | None], topic: str, advice: str) -> None:
            self.versions = dict(versions)
            self.topic = topic
            self.advice = advice

        def setup(self, worker: Any) -> None:
            import logging

            found = (worker.versions(packages=list(self.versions)) or {}).get("packages") or {}
            differ = [
                f"{name} {mine or 'not installed'} on the client, but "
                f"{found.get(name) or 'not installed'} on worker {worker.address}"
                for name, mine in self.versions.items()
                if found.get(name) != mine
            ]
            if not differ:
                return
            message = (
                f"Refusing worker {worker.address}: the cluster does not run the same software "
                f"everywhere: {'; '.join(differ)}. {self.advice}"
            )
            logging.getLogger("daskpar").error(message)
            worker.log_event(self.topic, {"worker": worker.address, "message": message})
            # Closed after ``setup`` returns: the worker may be in the middle of starting.
            worker.loop.add_callback(worker.close, nanny=True, reason="daskpar-version-mismatch")

    return VersionCheck


def ensure_cluster_ready(client: Any) -> None:
    """Wait for a first worker (:func:`wait_for_workers`) and check the versions
    (:func:`check_cluster`); cheap once done for this client and set of workers.

    ``client`` None (dask's local schedulers, no cluster) checks nothing.
    """
    if client is None:
        return
    wait_for_workers(client)
    check_cluster(client)


# --------------------------------------------------------------------------------------------
# What the cluster is


def _path_probe() -> Callable[[str], bool]:
    """The function :func:`info` runs on each worker: whether a path exists there.

    Made here, and using nothing of this module, so that cloudpickle sends the function
    itself rather than its name: a worker with another daskpar, or an older one without this
    module, can run it (and importing daskpar on every worker is not needed to look).
    """

    def see_path(path: str) -> bool:
        """Whether ``path`` (a local path, or an fsspec URL such as ``s3://bucket/data``)
        exists, seen from the process that runs this."""
        import os

        try:
            if "://" in path and not path.startswith("file://"):
                from fsspec.core import url_to_fs

                fs, inner = url_to_fs(path)
                return bool(fs.exists(inner))
            return os.path.exists(path.removeprefix("file://"))
        except Exception:  # no permission, no credentials, no such protocol: not visible
            return False

    return see_path


@dataclass
class ClusterInfo:
    """What :func:`info` found: printable as text, and as HTML in a notebook.

    Attributes
    ----------
    scheduler : str
        The scheduler's address.
    tls : bool
        Whether the connections are TLS (a ``tls://`` address).
    dashboard : str or None
        The dashboard's link.
    workers : dict
        Worker address -> ``{"host", "name", "threads", "memory"}`` (memory in bytes, 0
        when unlimited).
    versions : dict
        Host ("client", "scheduler" or a worker's address) -> package -> version (None when
        not installed).
    mismatches : dict
        Package -> version -> hosts, for every host whose version differs from the client's.
    paths : dict
        Path -> worker address -> whether that worker sees it.
    """

    scheduler: str
    tls: bool
    dashboard: str | None
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, dict[str, str | None]] = field(default_factory=dict)
    mismatches: dict[str, dict[str | None, list[str]]] = field(default_factory=dict)
    paths: dict[str, dict[str, bool]] = field(default_factory=dict)

    def _rows(self) -> list[tuple[str, list[tuple[str, ...]]]]:
        """(title, rows) of each table; the first row of each is its header."""
        from dask.utils import format_bytes

        Row = tuple[str, ...]
        workers: list[Row] = [("worker", "host", "threads", "memory")]
        workers += [
            (
                address,
                str(w["host"]),
                str(w["threads"]),
                format_bytes(w["memory"]) if w["memory"] else "unlimited",
            )
            for address, w in sorted(self.workers.items())
        ]
        versions: list[Row] = [("host", *PACKAGES)]
        versions += [
            (host, *(_shown(v.get(name)) for name in PACKAGES)) for host, v in self.versions.items()
        ]
        tables: list[tuple[str, list[Row]]] = [("workers", workers), ("versions", versions)]
        if self.paths:
            seen: list[Row] = [("path", "seen by every worker", "not seen by")]
            seen += [
                (
                    path,
                    "yes" if by and all(by.values()) else "no",
                    ", ".join(w for w, ok in sorted(by.items()) if not ok) or "-",
                )
                for path, by in self.paths.items()
            ]
            tables.append(("paths", seen))
        return tables

    def _summary(self) -> list[str]:
        threads = sum(int(w["threads"]) for w in self.workers.values())
        lines = [
            f"scheduler: {self.scheduler}",
            f"TLS: {'on' if self.tls else 'off'}",
            f"dashboard: {self.dashboard or 'none'}",
            f"workers: {len(self.workers)} ({threads} threads)",
        ]
        if not self.workers:
            lines.append(f"no workers: start one with `dask worker {self.scheduler}`")
        if self.mismatches:
            lines.append(
                "versions differ: "
                + "; ".join(
                    f"{name} {_shown(self.versions.get('client', {}).get(name))} on the "
                    "client, but "
                    + ", ".join(f"{_shown(v)} on {_named(hosts)}" for v, hosts in by.items())
                    for name, by in self.mismatches.items()
                )
            )
        else:
            lines.append("versions: the same everywhere")
        return lines

    def __repr__(self) -> str:
        out = self._summary()
        for title, rows in self._rows():
            widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
            out.append("")
            out.append(f"{title}:")
            out += [
                "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                for row in rows
            ]
        return "\n".join(line.rstrip() for line in out)

    def _repr_html_(self) -> str:
        out = ["<div>", "<ul>"]
        out += [f"<li>{html.escape(line)}</li>" for line in self._summary()]
        out.append("</ul>")
        for title, (header, *rows) in self._rows():
            out.append(f"<p><b>{html.escape(title)}</b></p><table>")
            out.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in header) + "</tr>")
            out += [
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                for row in rows
            ]
            out.append("</table>")
        out.append("</div>")
        return "\n".join(out)


def info(client: Any = None, paths: Iterable[str] = ()) -> ClusterInfo:
    """Describe a Dask cluster: workers, threads, memory, versions per host, TLS, the
    dashboard, and which of ``paths`` every worker sees.

    Nothing is refused here: a version mismatch or a missing worker is shown, not raised.

    Parameters
    ----------
    client : distributed.Client, default=None
        A client of the cluster; None takes the current one (``distributed.get_client()``).
    paths : iterable of str, default=()
        Data paths or fsspec URLs to look for on every worker.

    Returns
    -------
    ClusterInfo
        Printable (``print(dp.info(client))``), and shown as tables in a notebook.

    Examples
    --------
    >>> import daskpar as dp
    >>> from distributed import Client
    >>> from daskpar._cluster_check import info
    >>> with dp.local_cluster(1, processes=False) as cluster, Client(cluster) as client:
    ...     found = info(client, paths=["/"])
    >>> len(found.workers), found.tls, found.paths["/"] == {w: True for w in found.workers}
    (1, True, True)
    """
    if client is None:
        from distributed import get_client

        try:
            client = get_client()
        except ValueError:
            raise DaskparError(
                "daskpar.info() needs a cluster: connect a distributed.Client first "
                "(Client('tcp://HOST:8786'), or Client(daskpar.local_cluster())), or pass it."
            ) from None
    scheduler = client.scheduler.address
    identity = client.scheduler_info(n_workers=-1)
    workers = identity["workers"]
    versions = client.get_versions(check=False, packages=list(PACKAGES))
    per_host = {
        "client": _packages(versions["client"]),
        "scheduler": _packages(versions["scheduler"]),
    }
    per_host.update({w: _packages(v) for w, v in sorted(versions["workers"].items())})
    mine = per_host["client"]
    found = ClusterInfo(
        scheduler=scheduler,
        tls=scheduler.startswith("tls://"),
        # ``dashboard_link`` is made from a template even when no dashboard runs.
        dashboard=client.dashboard_link if "dashboard" in identity.get("services", {}) else None,
        workers={
            address: {
                "host": w.get("host", ""),
                "name": w.get("name", ""),
                "threads": int(w.get("nthreads", 0)),
                "memory": int(w.get("memory_limit") or 0),
            }
            for address, w in workers.items()
        },
        versions=per_host,
        mismatches=_differences(mine, {h: v for h, v in per_host.items() if h != "client"}),
    )
    for path in paths:
        found.paths[str(path)] = dict(client.run(_path_probe(), str(path))) if workers else {}
    return found
