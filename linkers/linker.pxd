# Types for ``linkers/linker.py`` when setup.py compiles it with Cython (the .py stays the
# source and the pure-Python fallback; ``linkers.compiled`` hashes this file with it). A
# decision is an extension type, and the spans and candidates it holds are the spotter's and
# the ranker's: the functions that read them per mention type their locals
# (``@cython.locals`` in the .py), which then read fields without attribute look-ups. Cimporting
# them ties this module to those two being compiled as well (``linkers.compiled`` runs it pure
# when either is not).
from linkers.spotter cimport Span
from linkers.ranker cimport Scored

cdef class Decision:
    cdef public Span span
    cdef public list row
    cdef public Scored pick
    cdef public object features, confidence, family, p_link, acting
