"""The layout rules of docs/architecture.md, checked on the source tree.

- import directions: ``analysis`` never imports ``simulation``; ``dosimetry`` uses only what
  ``nenscope.analysis`` exports; only the CLI layer (and ``__main__``, the demo) imports
  ``nenscope.cli``; CLI modules parse and print (no array or image library);
- size: no function in ``analysis``, ``imaging`` or ``dosimetry`` over 150 lines or radon
  cyclomatic complexity over 30 (Numba kernels excepted); ``analysis/pipeline.py`` under
  300 lines;
- each helper defined once: the FWHM/sigma and MAD/SD factors live in
  ``nenscope.imaging.geometry`` only, ``_fmt`` nowhere but the shared format module.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "nenscope"
LIMITED = ("analysis", "imaging", "dosimetry")
MAX_LINES = 150
MAX_COMPLEXITY = 30


def _modules(package: str | None = None):
    root = SRC / package if package else SRC
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text("utf-8"))
    pkg = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = ".".join([*base, mod] if mod else base)
            out.append((mod, [a.name for a in node.names]))
    return out


def _rel(path: Path) -> str:
    return str(path.relative_to(SRC))


def test_analysis_never_imports_the_simulator():
    bad = [
        f"{_rel(p)}: {mod}"
        for p in _modules("analysis")
        for mod, _ in _imports(p)
        if mod.startswith("nenscope.simulation")
    ]
    assert not bad, bad


def test_dosimetry_uses_only_what_analysis_exports():
    import nenscope.analysis as analysis

    exported = set(analysis.__all__)
    bad = []
    for p in _modules("dosimetry"):
        for mod, names in _imports(p):
            if mod.startswith("nenscope.analysis.") or (
                mod == "nenscope.analysis" and not set(names) <= exported
            ):
                bad.append(f"{_rel(p)}: from {mod} import {', '.join(names)}")
    assert not bad, bad


def test_only_the_cli_layer_imports_the_cli():
    allowed = {"__main__.py", "demo.py"}
    bad = [
        f"{_rel(p)}: {mod}"
        for p in _modules()
        if p.parts[-2] != "cli" and p.name not in allowed
        for mod, _ in _imports(p)
        if mod.startswith("nenscope.cli")
    ]
    assert not bad, bad


def test_cli_modules_only_parse_and_print():
    heavy = ("numpy", "scipy", "highdicom", "SimpleITK", "pydicom", "nibabel")
    bad = [
        f"{_rel(p)}: {mod}"
        for p in _modules("cli")
        for mod, _ in _imports(p)
        if mod.split(".")[0] in heavy
    ]
    assert not bad, bad


def _is_numba(node: ast.AST) -> bool:
    for dec in getattr(node, "decorator_list", []):
        text = ast.unparse(dec)
        if "njit" in text or "numba" in text or text.startswith("jit"):
            return True
    return False


@pytest.mark.parametrize("package", LIMITED)
def test_functions_a_reader_can_hold(package):
    from radon.complexity import cc_visit

    too_long, too_complex = [], []
    for p in _modules(package):
        text = p.read_text("utf-8")
        numba = {
            n.name
            for n in ast.walk(ast.parse(text))
            if isinstance(n, ast.FunctionDef) and _is_numba(n)
        }
        for block in cc_visit(text):
            if block.name in numba:
                continue
            lines = block.endline - block.lineno + 1
            if lines > MAX_LINES:
                too_long.append(f"{_rel(p)}:{block.lineno} {block.name} {lines} lines")
            if block.complexity > MAX_COMPLEXITY:
                too_complex.append(f"{_rel(p)}:{block.lineno} {block.name} CC {block.complexity}")
    assert not too_long, too_long
    assert not too_complex, too_complex


def test_pipeline_module_is_small():
    n = len((SRC / "analysis" / "pipeline.py").read_text("utf-8").splitlines())
    assert n < 300, n


@pytest.mark.parametrize(
    ("pattern", "home"),
    [
        (r"2\.354", "imaging/geometry.py"),
        (r"1\.4826", "imaging/geometry.py"),
        (r"sqrt\(\s*2(\.0)?\s*\*\s*(np\.|math\.)?log\(\s*2", "imaging/geometry.py"),
    ],
)
def test_numeric_helpers_defined_once(pattern, home):
    rx = re.compile(pattern)
    hits = [_rel(p) for p in _modules() if p.suffix == ".py" and rx.search(p.read_text("utf-8"))]
    assert hits == [home] or not hits, hits


def test_one_format_helper():
    defs = [
        f"{_rel(p)}:{n.lineno}"
        for p in _modules()
        for n in ast.walk(ast.parse(p.read_text("utf-8")))
        if isinstance(n, ast.FunctionDef) and n.name == "_fmt"
    ]
    assert len(defs) <= 1, defs


NUCLIDE_FACTS = "knowledge/data/radionuclides.toml"
#: ICRP-107 half-lives as a file would state them (s, min, h, d): their one home is the
#: radioactivedecay package, so no file under src/ may state them. Rounded figures inside the
#: tracer catalogue's quoted evidence (e.g. "T1/2 2.8 d") are prose, not data.
HALF_LIFE_FORMS = {
    "Lu-177": (574300.8, ["574300", "9571.7", "159.53", "6.647"]),
    "Ga-68": (4062.6, ["4062.6", "67.71", "1.1285"]),
    "F-18": (6586.2, ["6586.2", "109.77", "1.8295"]),
    "In-111": (242326.08, ["242326", "4038.77", "67.313", "2.8047"]),
}


@functools.cache
def _texts() -> dict[str, str]:
    """Relative path -> text of every source and data file under src/."""
    suffixes = (".py", ".toml", ".csv", ".json", ".md", ".txt")
    return {
        _rel(p): p.read_text("utf-8", errors="replace")
        for p in sorted(SRC.rglob("*"))
        if p.is_file() and p.suffix in suffixes and "__pycache__" not in p.parts
    }


def _files_stating(number: str) -> list[str]:
    rx = re.compile(rf"(?<![\d.]){re.escape(number)}(?!\d)")
    return [path for path, text in _texts().items() if rx.search(text)]


@pytest.mark.parametrize("nuclide", sorted(HALF_LIFE_FORMS))
def test_half_lives_come_only_from_radioactivedecay(nuclide):
    from nenscope.knowledge.radionuclides import half_life_s

    seconds, forms = HALF_LIFE_FORMS[nuclide]
    assert half_life_s(nuclide) == pytest.approx(seconds, rel=1e-6)
    hits = {form: _files_stating(form) for form in forms}
    assert not any(hits.values()), hits


def _nuclide_facts() -> list[tuple[str, str, float]]:
    import tomllib

    table = tomllib.loads((SRC / NUCLIDE_FACTS).read_text("utf-8"))
    out = []
    for nuclide, facts in table.items():
        for quantity, fact in facts.items():
            for key, value in fact.items():
                if isinstance(value, float):
                    out.append((nuclide, f"{quantity}.{key}", value))
    return out


def test_each_nuclide_fact_is_stated_once():
    """Positron ranges, beta+ yields and emitted energies live in the one nuclide file; the
    distinctive numbers (4+ significant digits) appear in no other file, and no other data
    file tabulates positron ranges."""
    facts = _nuclide_facts()
    assert {("Ga-68", "positron_range_mean_mm.value"), ("F-18", "beta_plus_yield.value")} <= {
        (n, q) for n, q, _ in facts
    }
    stated = {
        f"{n} {q} = {v!r}": _files_stating(repr(v))
        for n, q, v in facts
        if len(repr(v).replace("0.", "", 1).lstrip("0").replace(".", "")) >= 4
    }
    assert len(stated) >= 10, stated
    assert all(files == [NUCLIDE_FACTS] for files in stated.values()), stated
    rx = re.compile(r"positron.?range|rmean", re.IGNORECASE)
    data = [p for p, text in _texts().items() if p.endswith((".toml", ".csv", ".json"))]
    assert [p for p in data if rx.search(_texts()[p])] == [NUCLIDE_FACTS]
