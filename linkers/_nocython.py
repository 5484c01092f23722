"""The part of Cython's ``cython`` module that the linking modules use, for when Cython is not
installed (it is a build requirement only, so at run time it usually is not).

A compiled module declares the types of some locals with ``@cython.locals(...)``: Cython reads
them at compile time (an ``import cython`` there is a directive, not an import), and in pure
Python they are documentation. Each such module imports this as ``cython`` when ``import cython``
fails::

    try:
        import cython
    except ImportError:     # pure Python without Cython installed: declarations only
        from . import _nocython as cython
"""
from __future__ import annotations


def locals(**_types):      # noqa: A001 (the name is Cython's)
    """``@cython.locals(name=type, ...)``: in pure Python, the function unchanged."""
    return lambda function: function
