"""Every command and code block in README.md and docs/*.md runs as written, in a fresh directory.

Each file's blocks run in order in a directory of their own holding what a fresh clone ships beside
the package (examples/, perf/ without its results, tests/data/), so a block may use what an earlier
block of the same file made, and nothing else. By fence language:

- ``bash``: run by bash (-e -u -o pipefail); it must exit 0.
- ``console``: ``$ command`` lines run by bash, each followed by its output as the reader sees it
  (stdout and stderr together). The output must match: whitespace runs count as one, timings
  (``0.764``, ``2.01 s``) are not compared, and a line ``...`` stands for any number of lines.
- ``python``: run as a script by this interpreter; it must exit 0.
- ``toml``: a config, checked as ``arrow-events run --config`` would read it (a ``[sweep]`` table
  as ``arrow-events sweep`` would).
- ``text``: not run. The rule for using it: output shown, and blocks the suite cannot run, such as
  the set-up (it installs into a fresh virtualenv: .ci/run does exactly that), a GUI, a cluster, a
  server left running, or a benchmark of minutes or of millions of employees.

Any other fence (or none) fails, so no block is left out silently.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from arrow_events.config import config_from_dict
from arrow_events.sweep import read_sweep_config
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = {"bash", "console", "python", "toml"}
FENCE = re.compile(r"^```(\S*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
TIMING = [(re.compile(r"\b\d+\.\d+ s\b"), "<seconds> s"), (re.compile(r"(?<![\d.,])\d+\.\d{3}(?![\d%])"), "<seconds>")]


def blocks(path: Path) -> list[tuple[str, str, int]]:
    """(language, text, line) of each fenced block."""
    text = path.read_text(encoding="utf-8")
    return [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]


def fresh_directory(tmp_path: Path) -> Path:
    """What a fresh clone has beside the installed package: the shipped inputs and the benchmark harness."""
    work = tmp_path / "clone"
    shutil.copytree(ROOT / "examples", work / "examples")
    shutil.copytree(ROOT / "tests" / "data", work / "tests" / "data")
    shutil.copytree(ROOT / "perf", work / "perf", ignore=shutil.ignore_patterns("results", "__pycache__"))
    return work


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # arrow-events and python of this venv
    env.pop("ARROW_EVENTS_TOKEN", None)
    return env


def shell(command: str, cwd: Path, merged: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, env=environment(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merged else subprocess.PIPE,
                          timeout=600)


def normalized(line: str) -> str:
    for pattern, replacement in TIMING:
        line = pattern.sub(replacement, line)
    return " ".join(line.split())


def matches(expected: list[str], got: list[str]) -> bool:
    """``got`` is ``expected``, a line ``...`` standing for any lines."""
    pattern = "".join(r"(?:[^\n]*\n)*?" if line.strip() == "..." else re.escape(normalized(line) + "\n")
                      for line in expected)
    return re.fullmatch(pattern, "".join(normalized(line) + "\n" for line in got)) is not None


def run_console(text: str, cwd: Path, where: str) -> None:
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
        else:
            pytest.fail(f"{where}: a console block starts with '$ command'")
    for command, expected in steps:
        proc = shell(command, cwd, merged=True)
        got = proc.stdout.rstrip("\n").splitlines()
        assert proc.returncode == 0, f"{where}: {command}\n{proc.stdout[-3000:]}"
        assert matches(expected, got), f"{where}: {command}: the output differs from the docs:\n" + "\n".join(got)


def run_block(language: str, text: str, cwd: Path, where: str, n: int) -> None:
    if language == "bash":
        proc = shell(text, cwd)
        assert proc.returncode == 0, f"{where}:\n{text}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-3000:]}"
    elif language == "console":
        run_console(text, cwd, where)
    elif language == "python":
        script = cwd / f"block_{n}.py"
        script.write_text(text, encoding="utf-8")
        proc = subprocess.run([sys.executable, script.name], cwd=cwd, env=environment(), capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, f"{where}:\n{text}\nstderr: {proc.stderr[-3000:]}"
    else:  # toml: a config (its [sweep] table read as a sweep reads it)
        data = tomllib.loads(text)
        if "sweep" in data:
            path = cwd / f"block_{n}.toml"
            path.write_text(text, encoding="utf-8")
            read_sweep_config(path)
        else:
            config_from_dict(data, where)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_block_runs_as_written(doc, tmp_path):
    found = blocks(doc)
    unknown = [(line, language or "(none)") for language, _, line in found if language not in RUN | {"text"}]
    assert not unknown, f"{doc.name}: blocks with a fence language that is neither run nor text: {unknown}"
    cwd = fresh_directory(tmp_path)
    for n, (language, text, line) in enumerate(found):
        if language in RUN:
            run_block(language, text, cwd, f"{doc.relative_to(ROOT)}:{line}", n)


def test_the_set_up_is_what_ci_runs():
    """The README's set-up (fenced text: it installs) is the two commands .ci/run runs in a fresh virtualenv."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = next(text for language, text, _ in blocks(ROOT / "README.md") if language == "text")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.split("#")[0].strip() for line in setup.splitlines() if line.strip()]
    assert len(commands) == 2 and "python3 -m venv" in commands[0] and "pip install" in commands[0]
    for command in commands:
        assert command in ci, command
    assert "## Set-up" in readme and readme.index("## Set-up") < readme.index(setup)


def test_every_docs_page_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in (ROOT / "docs").glob("*.md"):
        assert f"docs/{page.name}" in readme, page.name
