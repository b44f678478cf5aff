"""The benchmarks and load tools, run as ``python -m scripts.bench [COMMAND] [FLAGS]``.

Public entry points: :mod:`~scripts.bench.suite` (``run``, the default), ``roundtrip``,
``server_model``, ``load_test`` and ``soak``; the modules with a leading underscore are their
helpers. Run from the repository root (or with it on ``PYTHONPATH``): ``soak`` imports the
tests' kill driver as ``tests.support``.
"""
