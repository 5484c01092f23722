# Types for ``linkers/metonymy.py`` when setup.py compiles it with Cython (the .py stays the
# source and the pure-Python fallback; ``linkers.compiled`` hashes this file with it).
cimport cython
from linkers.spotter cimport Span     # spans typed with ``cython.locals`` in the .py

@cython.locals(run=Py_ssize_t, may_start=bint, before=Py_UCS4, at=Py_ssize_t, ch=Py_UCS4)
cpdef bint _score_scan(str text) except -1

@cython.locals(n=Py_ssize_t, end=Py_ssize_t)
cdef bint _score_after(str text, Py_ssize_t at) except -1
