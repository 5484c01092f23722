# Types for the ranker's kernels in ``linkers/ranker.py`` (similarity blocks, numpy's pairwise
# sum, coherence) when setup.py compiles it with Cython (the .py stays the source and the
# pure-Python fallback; ``linkers.compiled`` hashes this file with it). Arrays of C numbers
# ("q": long long, "d": double) as memoryviews, every index and number a C local: the loops run
# without the interpreter. The inputs come as lists; those the loops over pairs of candidates
# read are made arrays first (a list read boxes a number: at ~200 candidates that was half of
# the kernel's time).
cimport cython
from linkers.spotter cimport Span

cdef class Scored:
    cdef public object eid, score, prob

cdef class Weights:
    cdef readonly object prior, popularity, label, context, coherence, coref, partial, embedded
    cdef readonly object modifier, shared, demonym, given, person_cue, name_context, similar
    cdef readonly object story, demonym_country, lone, nil, temperature

@cython.locals(total=double, r0=double, r1=double, r2=double, r3=double, r4=double, r5=double,
               r6=double, r7=double, k=Py_ssize_t, end=Py_ssize_t, half=Py_ssize_t)
cpdef double _pairwise_sum(double[:] values, Py_ssize_t lo, Py_ssize_t n) except? -1.0

@cython.locals(n=Py_ssize_t, u=Py_ssize_t, x=Py_ssize_t, y=Py_ssize_t, a=Py_ssize_t,
               b=Py_ssize_t, k=Py_ssize_t, p=Py_ssize_t, q=Py_ssize_t, row=Py_ssize_t,
               key="long long", total=double, root=double, wk=double, na=double,
               m=Py_ssize_t, ints="long long[:]", copies="long long[:]", df="long long[:]",
               start="long long[:]", fill="long long[:]", members="long long[:]",
               reals="double[:]", w2="double[:]", norm="double[:]", shared="double[:]",
               weight_of="double[:]", sim="double[:]", entity="long long[:]", name="long long[:]",
               between="double[:]", at=Py_ssize_t, slot="long long[:]", row_of="long long[:]",
               first="long long[:]", rows=Py_ssize_t, r=Py_ssize_t)
cpdef object _typed_similarities(list of, list keys, list made, list estart, list eword,
                                 Py_ssize_t nw, Py_ssize_t names)

@cython.locals(n=Py_ssize_t, x=Py_ssize_t, y=Py_ssize_t, g=Py_ssize_t, row=Py_ssize_t,
               r=Py_ssize_t, rows=Py_ssize_t, v=double, best="double[:]", total="double[:]",
               of_group="long long[:]")
cpdef object _typed_support(double[:] sim, long long[:] row_of, list group, Py_ssize_t groups,
                            double[:] totals)

@cython.locals(n=Py_ssize_t, p=Py_ssize_t, side=Py_ssize_t, a=Py_ssize_t, b=Py_ssize_t,
               r=Py_ssize_t, s=Py_ssize_t, i="long long", j="long long", at=Py_ssize_t,
               offers=Py_ssize_t, kept=Py_ssize_t, k=Py_ssize_t, q=Py_ssize_t, pb=double,
               v=double, damp=double, total=double, room="long long[:]", ints="long long[:]",
               filled="long long[:]", offer_at="long long[:]", order="long long[:]",
               seen="long long[:]", reals="double[:]", offer_of="double[:]", best="double[:]",
               totals="double[:]", present="long long[:]")
cpdef object _coherence_totals(long long[:] starts, long long[:] mentions, double[:] beliefs,
                               Py_ssize_t block, long long[:] pairs, long long[:] sharers,
                               long long[:] shared_starts, long long[:] others, double[:] damps,
                               double scale)

@cython.locals(row=list, c=Scored, n=Py_ssize_t, k=Py_ssize_t, exps=list, score=double,
               m=double, e=double, z=double)
cpdef object _softmax(list rows, double nil, double temperature)

# libm's own functions (``_exp`` and ``_log1p`` in ranker.py)
from libc.math cimport exp as _libm_exp, log1p as _libm_log1p
cdef double _LARGEST_FLOAT

@cython.locals(e=double)
cdef double _exp(double x) except? -1.0

cdef double _log1p(double x) except? -1.0

@cython.locals(moved=list, i=Py_ssize_t, k=Py_ssize_t, row=list, scores=list, c=Scored,
               still=bint, score=double)
cpdef list _rescored(list rows, list local, dict supported, dict alike_of, double coherence,
                     double similar)

@cython.locals(where=dict, i=Py_ssize_t, c=Scored, found=list)
cpdef dict _placings(list rows, Py_ssize_t lo, Py_ssize_t hi)

@cython.locals(share=dict, out=set, members=list, row=list, c=Scored, others=list)
cpdef set _listed_people(list rows, list lists, object kb)

@cython.locals(x=Py_ssize_t, v=double, key=tuple)
cpdef object _supported(object totals, list mention, list eids, dict out, dict raw, dict top)

@cython.locals(row=list, c=Scored)
cpdef dict _relative_to_best(dict out, dict top, list rows)

@cython.locals(out=set, seen=set, w=str, c=str)
cpdef set content_words(str text)

@cython.locals(best=list, kept=list, c=Scored, k=Py_ssize_t)
cpdef list _likeliest(list row)
