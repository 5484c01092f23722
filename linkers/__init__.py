"""factlink's linking core: a pure library (no web, queue or cache code).

    >>> from linkers import open_kb, link
    >>> kb = open_kb()                       # the starter KB; or open_kb("path/to/kb")
    >>> link("Macron met Putin in Moscow.", kb).to_dict()["mentions"]
"""
from . import compiled

compiled.install_guard()    # before the imports below: compiled modules, or their .py if stale

from . import errors
from .kb import BuildReport, DiskKB, KnowledgeBase, build_kb, open_kb
from .linker import LINKER_VERSION, link, link_segments, parse_published_at
from .types import NIL, Candidate, LinkOptions, LinkResult, Mention, Relation

__all__ = ["errors", "open_kb", "build_kb", "BuildReport", "DiskKB", "KnowledgeBase", "link",
           "link_segments", "parse_published_at", "LINKER_VERSION", "NIL", "Candidate",
           "LinkOptions", "LinkResult", "Mention", "Relation"]
