"""The notebooks run, top to bottom, in a real Jupyter kernel, and are kept without outputs.

Each notebook in ``notebooks/`` is executed by nbclient in an IPython kernel (ipykernel) started
with this interpreter, from a kernel spec written to a temporary directory, so the run needs
nothing installed outside the project's test extras. The kernel's working directory and
``TMPDIR`` are a temporary directory, and ``DASK_SCHEDULER_ADDRESS`` is unset, so each
notebook starts its own LocalCluster on 127.0.0.1 and writes nothing into the repository.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = [
    "01-quickstart.ipynb",
    "02-out-of-core.ipynb",
    "03-hyperparameter-search.ipynb",
    "04-cluster-and-monitoring.ipynb",
    "05-tables.ipynb",
    "06-text-and-click-logs.ipynb",
]
#: Seconds a cell may take; each whole notebook takes well under two minutes on 2 cores.
CELL_TIMEOUT = 150
#: Warnings a notebook may show: without ipywidgets, tqdm.auto draws a text bar and says so.
ALLOWED_WARNINGS = ("TqdmWarning: IProgress not found",)


def test_the_notebooks_are_the_expected_ones() -> None:
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, f"{name} has no code"
    with_outputs = [i for i, cell in enumerate(nb.cells) if cell.get("outputs")]
    counted = [i for i, cell in enumerate(nb.cells) if cell.get("execution_count") is not None]
    assert with_outputs == [], f"{name}: cells {with_outputs} have outputs; clear them"
    assert counted == [], f"{name}: cells {counted} have execution counts; clear them"
    assert "widgets" not in nb.metadata, f"{name} stores widget state; clear it"


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``python3`` kernel spec that runs ipykernel with this interpreter."""
    directory = tmp_path_factory.mktemp("kernels")
    spec = directory / "python3"
    spec.mkdir()
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (daskpar tests)",
        "language": "python",
    }
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return directory


def stream_text(nb: nbformat.NotebookNode, name: str) -> str:
    """Everything the cells wrote to the stream ``name`` (stdout or stderr)."""
    return "".join(
        output.get("text", "")
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == name
    )


# In the slow suite (``make test-slow``, which CI runs after ``make test``): a kernel and a
# cluster per notebook take minutes, which the quick suite's ten-minute budget cannot hold.
@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_a_kernel(
    name: str, kernel_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = sorted(p.name for p in NOTEBOOK_DIR.iterdir())
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    # One more cell, in this copy only: the kernel runs the interpreter of the tests.
    nb.cells.append(new_code_cell("import sys\nprint('interpreter:', sys.executable)"))
    work = tmp_path / "work"
    work.mkdir()
    # The kernel inherits this environment: its own cluster, temporary files under tmp_path.
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    client = NotebookClient(
        nb,
        km=KernelManager(kernel_name="python3", kernel_spec_manager=specs),
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(work)}},
    )
    start = time.perf_counter()
    # Raises CellExecutionError, with the cell and its traceback, if a cell fails; then
    # shuts the kernel down (the client does not own a kernel manager it is given).
    client.execute(cleanup_kc=True)
    seconds = time.perf_counter() - start
    print(f"{name}: {seconds:.1f} s")
    assert f"interpreter: {sys.executable}\n" in stream_text(nb, "stdout")
    stderr = stream_text(nb, "stderr")
    warnings = [
        line
        for line in stderr.splitlines()
        if "Warning" in line and not any(allowed in line for allowed in ALLOWED_WARNINGS)
    ]
    assert warnings == [], f"{name} shows warnings:\n{stderr}"
    assert "Traceback" not in stderr, stderr
    # Every code cell ran; nothing was written next to the notebooks.
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")
    assert sorted(p.name for p in NOTEBOOK_DIR.iterdir()) == before
