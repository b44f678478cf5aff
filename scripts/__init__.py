"""Developer tools: the benchmarks (``python -m scripts.bench``) and ``gen_protos.py``.

``gen_protos.py`` is run as a plain script (``python scripts/gen_protos.py``); everything in
:mod:`scripts.bench` runs as a module from the repository root.
"""
