"""Which linking modules run compiled, and the guard that never runs a stale compiled one.

``pip install -e .`` compiles the hot modules of this package with Cython when it can (setup.py)
and writes ``compiled.json``: each compiled module with the sha256 of the .py it was compiled
from, and of the .pxd typing it if there is one (``source_digest``). ``install_guard()`` (first
thing in ``linkers/__init__.py``) puts a finder in front of the import system that loads, for
each module that has a compiled file or a manifest entry:

- the compiled extension when its recorded source hash is the hash of its .py (and .pxd) now;
- the .py otherwise (edited after the install, or a compiled file no manifest vouches for),
  with one warning naming the modules and the command that recompiles them;
- the .py for every module when ``FACTLINK_PURE_PYTHON`` is set (not "0"): the reference mode
  that ``tests/test_compiled.py`` compares the compiled modules against;
- the .py for a module whose .pxd cimports another guarded module that runs from its .py (or
  has no compiled file): a compiled module reads the C layout of the types it cimports
  (``linker.pxd`` cimports the spotter's ``Span``), and would refuse to import beside the
  pure-Python class of the same name.

``describe()`` says which mode the process runs in, for log lines and ``factlink --version``;
``interpreter()`` which CPython build runs it: the same compiled code linked 1.3-1.6x faster on
this machine's Debian ``/usr/bin/python3.11`` than on its pyenv build (bench/README.md, "The
interpreter"), so a benchmark figure names the build it was measured on.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import platform
import re
import sys
import sysconfig
import warnings
from pathlib import Path

PURE_ENV = "FACTLINK_PURE_PYTHON"
PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST = PACKAGE_DIR / "compiled.json"
REBUILD = "pip install -e ."

# module -> (path to load, why it is pure or None when compiled); set by install_guard()
_choices: dict[str, tuple[Path, str | None]] = {}
_summary = "pure Python (guard not installed)"


def pure_forced() -> bool:
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def _extension_files() -> dict[str, Path]:
    """module -> compiled file of this interpreter found beside its .py (package and kb/)."""
    found = {}
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    for folder, prefix in ((PACKAGE_DIR, "linkers."), (PACKAGE_DIR / "kb", "linkers.kb.")):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            for suffix in suffixes:
                if name.endswith(suffix) and name != "__init__" + suffix:
                    found[prefix + name[:-len(suffix)]] = folder / name
                    break
    return found


def _source(module: str) -> Path:
    return PACKAGE_DIR.joinpath(*module.split(".")[1:]).with_suffix(".py")


def source_digest(source: Path) -> str:
    """sha256 of a module's .py and, when there is one beside it, of the .pxd that gives Cython
    the types of its kernels (``text.pxd``): a .pxd changed since the build makes the compiled
    module stale too. setup.py records this digest in the manifest."""
    digest = hashlib.sha256(source.read_bytes())
    pxd = source.with_suffix(".pxd")
    if pxd.is_file():
        digest.update(b"\0pxd\0" + pxd.read_bytes())
    return digest.hexdigest()


#: ``from linkers.spotter cimport Span`` in a .pxd: the module depends on that one's C types
_CIMPORT = re.compile(r"^[ \t]*from[ \t]+(linkers(?:\.\w+)+)[ \t]+cimport\b", re.M)


def cimported(module: str) -> set[str]:
    """The guarded modules whose types ``module``'s .pxd cimports (none without a .pxd)."""
    try:
        pxd = _source(module).with_suffix(".pxd").read_text()
    except OSError:
        return set()
    return set(_CIMPORT.findall(pxd)) - {module}


def _read_manifest() -> dict | None:
    try:
        return json.loads(MANIFEST.read_bytes())
    except (OSError, ValueError):
        return None


def _decide(manifest: dict | None, extensions: dict[str, Path]) -> tuple[dict, str]:
    recorded = (manifest or {}).get("modules", {})
    choices: dict[str, tuple[Path, str | None]] = {}
    for module in sorted(set(recorded) | set(extensions)):
        source = _source(module)
        if not source.is_file():        # a compiled module whose .py is gone: nothing to check
            continue
        if pure_forced():
            reason = f"{PURE_ENV}=1"
        elif module not in recorded:
            reason = "compiled file not recorded in compiled.json"
        elif module not in extensions:
            reason = "not compiled for this Python"
        elif source_digest(source) != recorded[module]["source_sha256"]:
            reason = "source changed since it was compiled"
        else:
            reason = None
        choices[module] = (source, reason) if reason else (extensions[module], None)
    _pure_with_what_they_cimport(choices)
    compiled = sum(1 for _path, reason in choices.values() if reason is None)
    if pure_forced():
        summary = f"pure Python ({PURE_ENV}=1)"
    elif manifest is None:
        summary = "pure Python (not compiled at install)"
    elif not choices:
        summary = f"pure Python (not compiled at install: {manifest.get('reason') or 'nothing compiled'})"
    elif compiled == len(choices):
        summary = f"compiled ({compiled} modules)"
    else:
        pure = sorted(m for m, (_p, reason) in choices.items() if reason)
        summary = f"partly compiled ({compiled} of {len(choices)} modules; pure: {', '.join(pure)})"
    return choices, summary


def _pure_with_what_they_cimport(choices: dict[str, tuple[Path, str | None]]) -> None:
    """A compiled module that cimports one running pure (or not compiled at all) runs pure too,
    and so on along the cimports."""
    needs = {module: cimported(module) for module in choices}
    changed = True
    while changed:
        changed = False
        for module, (_path, reason) in sorted(choices.items()):
            if reason is not None:
                continue
            pure = sorted(dep for dep in needs[module]
                          if dep not in choices or choices[dep][1] is not None)
            if pure:
                choices[module] = (_source(module), f"cimports {', '.join(pure)}, which runs as pure Python")
                changed = True


class _Guard:
    """A meta path finder for the guarded modules only: .so or .py as ``_choices`` says."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        choice = _choices.get(fullname)
        if choice is None:
            return None
        return importlib.util.spec_from_file_location(fullname, choice[0])

    @staticmethod
    def invalidate_caches() -> None:
        pass


def install_guard() -> None:
    """Decide, once per process, which file each guarded module loads from; warn on stale ones."""
    global _summary
    if _Guard in sys.meta_path:
        return
    choices, _summary = _decide(_read_manifest(), _extension_files())
    _choices.update(choices)
    if choices:
        sys.meta_path.insert(0, _Guard)
    stale = sorted(m for m, (_p, reason) in choices.items()
                   if reason and reason.startswith("source changed"))
    if stale:
        them = "it" if len(stale) == 1 else "them"
        following = sorted(m for m, (_p, reason) in choices.items()
                           if reason and reason.startswith("cimports"))
        also = (f", with the modules that cimport {'its' if len(stale) == 1 else 'their'} types "
                f"({', '.join(following)})" if following else "")
        warnings.warn(f"{', '.join(stale)} changed since compiled: running {them} as pure Python"
                      f"{also} (`{REBUILD}` recompiles {them})", RuntimeWarning, stacklevel=2)


def describe() -> str:
    """``compiled (14 modules)``, ``pure Python (reason)`` or ``partly compiled (...)``."""
    return _summary


def interpreter() -> str:
    """``CPython 3.11.2 (/usr/bin/python3.11, libpython static)``: the version, the real path of
    the executable (a venv's ``python`` is a link to it) and whether the interpreter's core is
    a shared ``libpython`` or linked into the executable. Facts read from the process, not from
    ``sysconfig``, which a distribution may ship from another build of the same version
    (Debian's says shared for its static binary); how a build was optimised is recorded
    nowhere reliable, so the path is what tells two builds of one version apart."""
    return (f"{platform.python_implementation()} {platform.python_version()} "
            f"({os.path.realpath(sys.executable)}, libpython {_libpython_linkage()})")


def _libpython_linkage() -> str:
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:                 # not Linux: what the build says
        return "shared" if sysconfig.get_config_var("Py_ENABLE_SHARED") else "static"
    return "shared" if "/libpython" in maps else "static"


def loaded_compiled() -> list[str]:
    """The guarded modules imported so far whose code is a compiled extension (the fact, not
    the plan: what the pure-vs-compiled test checks)."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return sorted(name for name in _choices
                  if getattr(sys.modules.get(name), "__file__", "").endswith(suffixes))


def guarded() -> list[str]:
    return sorted(_choices)
