# Types for ``linkers/demonyms.py`` when setup.py compiles it with Cython (the .py stays the
# source and the pure-Python fallback; ``linkers.compiled`` hashes this file with it).
cimport cython
from linkers.spotter cimport Span     # spans typed with ``cython.locals`` in the .py

@cython.locals(out=list, start=Py_ssize_t, at=Py_ssize_t, before=Py_UCS4, ch=Py_UCS4)
cpdef list _adjective_word_scan(str text)

@cython.locals(k=Py_ssize_t, m=Py_ssize_t, ending=str)
cdef bint _adjective_ends(str text, Py_ssize_t start, Py_ssize_t end) except -1
