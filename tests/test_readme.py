"""Every code block of the README runs here, so that the README cannot drift from the code.

- ``python`` blocks are doctests: their outputs (scores included) are checked, so the quick
  start shows a model that learns, on data it generates.
- The command-line synopsis must list exactly the options of each command's ``--help``.
- The set-up commands (``make demo``, ``make test``): ``make test`` is what CI runs; ``make
  demo`` runs in ``test_make_demo`` (slow, run by ``.ci/run`` through ``make test-slow``).
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
from pathlib import Path

import click
import dask
import pytest

from daskpar._cli import main
from daskpar._coalesce import DEFAULT_TARGET, TARGET_KEY

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def blocks(language: str) -> list[tuple[int, str]]:
    """The README's code blocks in ``language``, with the line each starts on."""
    text = README.read_text()
    return [
        (text.count("\n", 0, m.start()) + 2, m.group(2))
        for m in FENCE.finditer(text)
        if m.group(1) == language
    ]


def test_every_block_is_covered() -> None:
    languages = {m.group(1) for m in FENCE.finditer(README.read_text())}
    assert languages <= {"python", "bash", "text"}, languages
    assert all(">>>" in code for _, code in blocks("python")), "python blocks are doctests"


@pytest.mark.parametrize(("line", "code"), blocks("python"), ids=lambda v: str(v)[:8])
def test_python_block(line: int, code: str) -> None:
    test = doctest.DocTestParser().get_doctest(code, {}, f"README.md:{line}", str(README), line)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.REPORT_NDIFF
    )
    # The README runs on dask's default (threaded) scheduler and daskpar's default settings
    # (small blocks coalesced), as a user's session does.
    with dask.config.set({"scheduler": "threads", TARGET_KEY: DEFAULT_TARGET}):
        runner.run(test, out=print)
    assert runner.failures == 0, f"README.md:{line}: see the doctest report above"


def synopsis() -> dict[str, set[str]]:
    """``daskpar COMMAND`` -> the options the README's synopsis lists for it."""
    (code,) = [c for _, c in blocks("bash") if c.lstrip().startswith("daskpar ")]
    out: dict[str, set[str]] = {}
    command = ""
    for line in code.splitlines():
        if line.startswith("daskpar "):
            command = line.split()[1]
        out.setdefault(command, set()).update(re.findall(r"--[a-z][a-z-]*", line))
    return out


def help_options(command: click.Command) -> set[str]:
    if isinstance(command, click.Group):  # ``daskpar audit verify``: its subcommands' options
        return set().union(*(help_options(c) for c in command.commands.values()))
    names = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    return {n for n in names if n.startswith("--")} - {"--help"}


def test_cli_synopsis_lists_every_option() -> None:
    listed = synopsis()
    assert isinstance(main, click.Group)
    assert set(listed) == set(main.commands), "one synopsis line per command"
    for name, command in main.commands.items():
        assert listed[name] == help_options(command), name


def test_set_up_commands_are_the_makefile_targets() -> None:
    (quick,) = [c for _, c in blocks("bash") if "make demo" in c]
    targets = re.findall(r"^make (\w[\w-]*)", quick, re.M)
    assert targets == ["demo", "test"]
    makefile = (ROOT / "Makefile").read_text()
    for target in targets:
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_make_demo() -> None:
    """The quick start's first command, as a user runs it (the venv exists already here)."""
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    result = subprocess.run(
        ["make", "demo", "DEMO_ARGS=--dashboard-port 0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [ln.split() for ln in result.stdout.splitlines() if re.match(r"^\s+\d+\s+\d", ln)]
    assert len(rows) == 6, result.stdout  # 3 epochs of each of the two models
    # The comparison closes the output (a make running this one adds its directory lines).
    last = [ln for ln in result.stdout.splitlines() if not ln.startswith("make")][-2:]
    assert last[0].startswith("AdaptiveSGDClassifier"), result.stdout
    assert last[1].startswith("StandardScaler + SGDClassifier"), result.stdout
    for line in last:
        accuracy, log_loss = map(float, line.split()[-2:])
        assert accuracy > 0.75, result.stdout  # the demo's models learn
        assert log_loss < 0.6, result.stdout


def test_cli_synopsis_lists_every_model() -> None:
    from daskpar._cli import MODELS

    (code,) = [c for _, c in blocks("bash") if c.lstrip().startswith("daskpar ")]
    match = re.search(r"--model ([a-z|\s-]+)\]", code)
    assert match is not None
    assert set(re.split(r"[|\s]+", match.group(1).strip())) == set(MODELS)
