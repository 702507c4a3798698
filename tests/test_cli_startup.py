"""``nenscope --help`` starts fast: the command modules import no heavy library at import time
(issue 17: radioactivedecay alone pulled in pandas, sympy, matplotlib and networkx, 1.6 s).

Checked in a fresh interpreter (this test session has long imported everything)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# libraries that ``import nenscope.cli`` must leave to the commands that need them
HEAVY = (
    "numpy",
    "scipy",
    "pydicom",
    "highdicom",
    "SimpleITK",
    "radioactivedecay",
    "matplotlib",
    "pandas",
    "sympy",
    "networkx",
    "textstat",
    "jinja2",
)


def _fresh(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout


def test_cli_import_leaves_heavy_libraries_unloaded():
    out = _fresh(
        "import json, sys, nenscope.cli\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    assert json.loads(out) == []


def test_help_lists_every_command_without_heavy_imports():
    out = _fresh(
        "import json, sys\n"
        "from nenscope.cli import main\n"
        "code = main(['--help'])\n"
        f"print(json.dumps([code, sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))]))"
    )
    *help_lines, last = out.strip().splitlines()
    assert json.loads(last) == [0, []]
    text = "\n".join(help_lines)
    for command in ("analyze", "dosimetry", "simulate", "leaflet", "radiomics", "cohort", "serve"):
        assert command in text


def test_half_life_from_radioactivedecay_data_without_its_import():
    """Half-lives come from radioactivedecay's ICRP-107 data file; the package itself (pandas,
    sympy, matplotlib, networkx) is not imported to read them."""
    out = _fresh(
        "import sys\n"
        "from nenscope.knowledge import half_life_s\n"
        "print(half_life_s('68Ga'), 'radioactivedecay' in sys.modules)"
    )
    seconds, imported = out.split()
    assert imported == "False"
    assert float(seconds) == pytest.approx(67.71 * 60.0, rel=1e-9)  # ICRP-107: 67.71 min
