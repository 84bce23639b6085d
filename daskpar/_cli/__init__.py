"""The ``daskpar`` command line: a thin shell over the public API.

Heavy imports (dask, distributed, scikit-learn) happen inside the commands, so ``--help`` is fast.
One module per role:

- ``_options``: the options the commands share (click decorators and their checks);
- ``_cluster``: the cluster a command runs on (a scheduler's address, or an embedded one);
- ``_context``: what runs around a command's work (checks, Ctrl-C, the performance report,
  ``--keep-open``, one-line errors, the files it reads and writes);
- ``_tables``: tables with text columns: each column's encoding, picked by cardinality on the
  workers and printed, and the column step a model trained on them starts with;
- one module per group of commands: ``_make_data`` (make-data), ``_training`` (train, search,
  demo), ``_model_use`` (score, predict), ``_security`` (certs, audit).
"""

from __future__ import annotations

import click

# Imported from here by the tests, the benchmarks and the compose checks.
from ._cluster import EMBEDDED_WORKER_TTL, cluster
from ._info import info_command
from ._make_data import make_data_command
from ._model_use import predict_command, score_command
from ._options import MODELS
from ._security import audit_group, certs_command
from ._training import demo_command, median_read_seconds, search_command, train_command

__all__ = ["EMBEDDED_WORKER_TTL", "MODELS", "cluster", "main", "median_read_seconds"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="daskpar")
def main() -> None:
    """Train scikit-learn models on out-of-core data, in parallel, on a Dask cluster."""


for command in (
    make_data_command,
    train_command,
    search_command,
    demo_command,
    score_command,
    predict_command,
    certs_command,
    audit_group,
    info_command,
):
    main.add_command(command)
