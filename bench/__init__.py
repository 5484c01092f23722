"""factlink benchmarks: scripts that print numbers (``factlink bench``), never timed tests.

Nothing here is imported by ``linkers``/``workers``/``service`` at run time except through
``service/bench_cli.py``. Shared data is located by ``bench.data``.
"""
