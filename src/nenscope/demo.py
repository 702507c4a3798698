"""``make demo``: the main job on built-in data.

Shows the protocol advice for a few typical patients (issue 2); the full simulate → analyse →
report demo replaces this once the analysis pipeline exists.
"""

from __future__ import annotations

from nenscope.cli import main as cli_main

SCENARIOS = [
    ("staging", "70"),
    ("staging", "120"),
    ("insulinoma", "64"),
    ("high-grade", "82"),
    ("pre-prrt", "95"),
]


def main() -> int:
    for scenario, weight in SCENARIOS:
        code = cli_main(["protocol", "--scenario", scenario, "--weight-kg", weight])
        if code:
            return code
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
