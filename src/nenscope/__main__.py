from nenscope.cli import run

run()
