# Types for ``linkers/business.py`` when setup.py compiles it with Cython (the .py stays the
# source and the pure-Python fallback; ``linkers.compiled`` hashes this file with it).
cimport cython
from linkers.spotter cimport Span     # spans typed with ``cython.locals`` in the .py

@cython.locals(as_is=bint, shortest=Py_ssize_t, longest=Py_ssize_t, hits=list, start=Py_ssize_t,
               cased=bint, at=Py_ssize_t, ch=Py_UCS4)
cpdef list _money_word_scan(str text)

cdef bint _is_money_word(str run, bint lower) except -1
