# Types for ``linkers/text.py`` when setup.py compiles it with Cython (the .py stays the source
# and the pure-Python fallback; ``linkers.compiled`` hashes this file with it).
cimport cython

@cython.locals(out=list, n=Py_ssize_t, i=Py_ssize_t, j=Py_ssize_t, start=Py_ssize_t,
               pairs=Py_ssize_t, ch=Py_UCS4)
cpdef list _scan_tokens(str text, bint spans)

cdef bint _word_char(Py_UCS4 ch)

@cython.locals(words=list, gaps=list, k=Py_ssize_t, start=Py_ssize_t, stop=Py_ssize_t,
               end=Py_ssize_t)
cpdef tuple token_texts(str text, list spans)

@cython.locals(words=list, k=Py_ssize_t, start=Py_ssize_t, stop=Py_ssize_t)
cpdef list _words_at(str text, list spans)
