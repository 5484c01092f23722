# Types for ``linkers/offices.py`` when setup.py compiles it with Cython (the .py stays the
# source and the pure-Python fallback; ``linkers.compiled`` hashes this file with it): the
# spotter's spans, which its functions type with ``cython.locals`` to read their fields
# without attribute look-ups.
from linkers.spotter cimport Span
