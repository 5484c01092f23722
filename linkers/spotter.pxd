# Types for the spotter's loops in ``linkers/spotter.py`` when setup.py compiles it with Cython
# (the .py stays the source and the pure-Python fallback; ``linkers.compiled`` hashes this file
# with it): the scan for names (``_names``), its probe (``_longest``) and span maker
# (``_span_at``) and the per-text table's flags. The table (``_Words``)
# and the key maker (``_KeyOf``) become extension types with typed fields, so these read a
# token's offsets and flags from lists without attribute look-ups, keep offsets as C sizes, and
# slice the text for a key with C offsets, without slice objects. A function that
# ``fastpath.keep_reference`` swaps (``_spot``, ``_nil_spans``) stays a ``def``: a cpdef one is
# called in C from within the module, and ``reference_paths`` could not put its reference back.
cimport cython

# a found name (``Span``): fields as Python objects in C slots; a typed local reads them directly
cdef class Span:
    cdef public object start, end
    cdef public str text, key
    cdef public list candidates
    cdef public object embedded, modifier, given, person_cue, listed

cdef class _KeyOf:
    cdef public str norm
    cdef public object lowered
    cdef public bint whole
    @cython.locals(lowered=str, k=str)
    cpdef str key(self, Py_ssize_t s, Py_ssize_t e)

cdef class _Words:
    cdef public str norm
    cdef public list toks, starts, ends, words, gaps, cap, lower_stop
    cpdef bint joins(self, Py_ssize_t a) except -1
    @cython.locals(word=str)
    cpdef bint title_word(self, Py_ssize_t k) except -1
    cpdef bint ends_title(self, Py_ssize_t k) except -1
    @cython.locals(words=list, before=bint, after=bint)
    cpdef bint embedded(self, Py_ssize_t i, Py_ssize_t j) except -1
    @cython.locals(cap=list)
    cpdef bint in_name_run(self, Py_ssize_t i, Py_ssize_t j) except -1
    @cython.locals(mid=str)
    cpdef bint joined(self, Py_ssize_t a) except -1
    @cython.locals(prev=str)
    cpdef bint after_person_cue(self, Py_ssize_t i) except -1
    cpdef bint before_agent_verb(self, Py_ssize_t j) except -1
    @cython.locals(nxt=str)
    cpdef bint before_common_noun(self, Py_ssize_t j) except -1

@cython.locals(lower_stop=list, words=list, cap=list, lead=str, k=Py_ssize_t)
cpdef bint _eligible_span(_Words table, object kb, Py_ssize_t i, Py_ssize_t j, object key,
                          bint any_cap) except -1

@cython.locals(lower_stop=list, starts=list, ends=list, words=list, gaps=list, cap=list,
               unmatched=list, s=Py_ssize_t, e=Py_ssize_t, j=Py_ssize_t, pe=Py_ssize_t,
               lead=str, key=str, word=str, the_lead=bint, plain_lead=bint, any_cap=bint,
               comma_seen=bint, possessive=bint, matched=bint, prefix=bint)
cpdef object _longest(_Words table, object kb, _KeyOf key_of, Py_ssize_t i, object has_key,
                      object has_prefix)

@cython.locals(norm=str, words=list, starts=list, spans=list, n=Py_ssize_t, i=Py_ssize_t,
               first=str)
cpdef list _names(str text, _Words table, object kb, object longest, _KeyOf key_of=*)

@cython.locals(starts=list, ends=list)
cpdef tuple _offsets(list toks)

@cython.locals(w=str, cap=list, lower_stop=list, first=Py_UCS4)
cpdef tuple _token_flags(list words)

@cython.locals(i=Py_ssize_t)
cpdef bint _sentence_initial(str norm, Py_ssize_t start) except -1

@cython.locals(norm=str, words=list, ends=list, n=Py_ssize_t, j=Py_ssize_t, e=Py_ssize_t,
               s=Py_ssize_t, key=str, company=bint, surface=str, shape=long, acronym_ok=bint,
               window=list, cands=list, dotted=str, initial=bint, single_common=bint,
               embedded=bint, given=bint)
cpdef object _span_at(str text, _Words table, object kb, Py_ssize_t i, tuple best)

@cython.locals(n=Py_ssize_t, end=Py_ssize_t, ch=Py_UCS4)
cpdef bint _agent_verb_at(str text, Py_ssize_t at) except -1
