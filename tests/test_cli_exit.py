"""The console entry point ends the process without the interpreter's teardown
(:func:`nenscope.cli.exit_now`): exit codes, piped output and the exit handlers are kept."""

from __future__ import annotations

import json
import subprocess
import sys

EXIT_SCRIPT = """
import atexit, sys
from nenscope.cli import exit_now
atexit.register(lambda: print("handler ran"))
sys.stdout.write("x" * 300_000 + "\\n")
sys.stderr.write("partial line on stderr")
exit_now(int(sys.argv[1]))
"""


def test_exit_now_runs_the_handlers_flushes_and_keeps_the_code():
    for code in (0, 3):
        proc = subprocess.run(
            [sys.executable, "-c", EXIT_SCRIPT, str(code)], capture_output=True, text=True
        )
        assert proc.returncode == code
        lines = proc.stdout.splitlines()
        assert lines == ["x" * 300_000, "handler ran"]
        assert proc.stderr == "partial line on stderr"


def test_the_console_command_writes_its_whole_output_to_a_pipe():
    proc = subprocess.run(
        [sys.executable, "-m", "nenscope", "tracer", "Ga-68 DOTATATE", "--json"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)  # complete: it parses
    assert "Ga-68" in json.dumps(facts)
