"""Run every benchmark in this folder (``bench_*.py``), one after another.

Each benchmark prints its own timings and the ratio against the peer its issue names.
Usage: ``make bench`` or ``python bench/run_all.py [NAME ...]``.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = sorted(p for p in HERE.glob("bench_*.py"))
    if argv:
        names = [p for p in names if any(a in p.stem for a in argv)]
    failed = 0
    for path in names:
        print(f"\n=== {path.stem} ===", flush=True)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        t0 = time.perf_counter()
        try:
            spec.loader.exec_module(module)
            module.main()
        except Exception as exc:  # a failing benchmark must not hide the others
            failed += 1
            print(f"{path.stem} FAILED: {type(exc).__name__}: {exc}", flush=True)
        print(f"({path.stem}: {time.perf_counter() - t0:.1f} s in all)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
