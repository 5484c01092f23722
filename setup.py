"""Build step: compile the linking core's hot modules with Cython when a C compiler is there.

pyproject.toml holds the metadata; this file only adds the optional compile. The modules are
the ordinary ``linkers/*.py`` files, compiled as they are (no ``.pyx``): the .py stays the one
source and the pure-Python fallback. Whatever cannot be compiled (no Cython, no working C
compiler, a module Cython rejects) stays pure Python, module by module, and the install still
succeeds. ``linkers/compiled.json`` records what was compiled from which source (sha256), so
``linkers.compiled`` never loads a module whose .py changed after the build (bench/README.md,
"The linking core compiled with Cython").
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
# The modules on linking's hot path (spotting, ranking, fact cards, the KB reads they make, the
# workers' KB overlay): ~97% of the pure profile's time in linkers/. calibration.py is left
# out: it compiles, but linking was no faster with it compiled (bench/README.md, "First-time
# work per entity"). A module added here that does not compile fails tests/test_compiled.py
# where a compiler is present.
COMPILED = ("spotter", "ranker", "linker", "text", "metonymy", "kb.store", "facts", "shortforms",
            "readings", "demonyms", "business", "pronouns", "offices", "classes", "kb.overlay")
MANIFEST = "compiled.json"     # beside linkers/__init__.py; read by linkers/compiled.py
# -O1 -g0: 44 s of compile CPU against 69 s at -O2 and 94 s at -O3 (bench/README.md, "The
# linking core compiled with Cython"). -ffp-contract=off: a kernel's a + b * c rounds twice, as
# Python does, even where CFLAGS let the compiler use a fused multiply-add (-march=native):
# compiled and pure Python give the same numbers, bit for bit.
UNIX_FLAGS = ["-O1", "-g0", "-ffp-contract=off"]
# -O2 for the three modules whose own compiled code is most of linking's (the token scan, the
# spotter's probe and tables, the ranker's kernels): GCC inlines Cython's small helpers there (a
# character read, a list item). 4 KB articles linked again 31.41 -> 30.49 M instructions, 0.97x
# the time (``bench.compare``), for ~1.5 s more of the build's wall time on 2 cores; all 15 at
# -O2 gave 30.36 M and 0.95x for +16 s (bench/README.md, "Compiler flags, measured in pairs").
OPTIMISED = ("text", "spotter", "ranker")
OPTIMISED_FLAGS = ["-O2"]       # after UNIX_FLAGS: GCC takes the last -O
DIRECTIVES = {"language_level": 3,
              # the annotations are documentation: enforced, `own: set` would reject a frozenset
              "annotation_typing": False}


def warn(message: str) -> None:
    sys.stderr.write(f"WARNING: factlink: {message}\n")
    sys.stderr.flush()


def source_of(name: str) -> Path:
    return ROOT / "linkers" / (name.replace(".", "/") + ".py")


def _source_digest():
    """``linkers.compiled.source_digest``: the .py and the .pxd that types it, hashed as the
    guard hashes them (read from the file: the package is not importable while it builds)."""
    spec = importlib.util.spec_from_file_location("_factlink_compiled", ROOT / "linkers" / "compiled.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.source_digest


source_digest = _source_digest()


class OptionalCythonBuild(build_ext):
    """build_ext that never fails the install: each module compiles or stays pure Python."""

    def run(self):
        started = time.monotonic()
        self.not_compiled: dict[str, str] = {}
        self.sources: dict[str, str] = {}
        self.reason = self._translate()
        if self.reason is None and self.extensions:
            self.parallel = self.parallel or os.cpu_count() or 1
            super().run()
        else:
            self.copy_extensions_to_source()
        if self.reason is not None:
            warn(f"linkers stays pure Python ({self.reason})")
        self.extensions = [ext for ext in self.extensions if ext.name in self._compiled()]
        self._write_manifest(time.monotonic() - started)

    def _translate(self) -> str | None:
        """Cython each module to C (in this process: ~4 s for all); None, or why nothing compiles."""
        if os.environ.get("FACTLINK_PURE_PYTHON", "") not in ("", "0"):
            return "FACTLINK_PURE_PYTHON=1 at install"
        try:
            from Cython import __version__ as cython_version
            from Cython.Build import cythonize
        except ImportError:
            return "Cython is not installed"
        self.cython_version = cython_version
        c_dir = Path(self.build_temp) / "cython"
        translated = []
        for ext in self.extensions:
            source = Path(ext.sources[0])
            self.sources[ext.name] = source_digest(source if source.is_absolute() else ROOT / source)
            try:
                (c_ext,) = cythonize([Extension(ext.name, [str(source)])], build_dir=str(c_dir),
                                     quiet=True, compiler_directives=DIRECTIVES)
            except BaseException as exc:    # Cython compile errors and Cython's own crashes
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._failed(ext.name, f"Cython: {type(exc).__name__}: {exc}")
                continue
            ext.sources = c_ext.sources
            translated.append(ext)
        # the largest C files first: two compilers in parallel end together
        self.extensions = sorted(translated, key=lambda ext: -os.path.getsize(ext.sources[0]))
        return None

    def build_extensions(self):
        # one line for a machine without a working C compiler, not one error per module
        with tempfile.TemporaryDirectory() as tmp:
            probe = Path(tmp) / "probe.c"
            probe.write_text("int factlink_probe(void) { return 0; }\n")
            try:
                self.compiler.compile([str(probe)], output_dir=tmp)
            except Exception:
                compiler = (getattr(self.compiler, "compiler_so", None) or ["the C compiler"])[0]
                self.reason = f"no working C compiler: {compiler} failed on a probe file"
                return
        if self.compiler.compiler_type == "unix":
            for ext in self.extensions:
                more = OPTIMISED_FLAGS if ext.name.removeprefix("linkers.") in OPTIMISED else []
                ext.extra_compile_args = [*ext.extra_compile_args, *UNIX_FLAGS, *more]
        super().build_extensions()

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._failed(ext.name, f"C compile: {str(exc).splitlines()[0]}")

    def copy_extensions_to_source(self):
        built = self._compiled()
        self.extensions = [ext for ext in self.extensions if ext.name in built]
        if not self.inplace:
            return
        super().copy_extensions_to_source()
        # an extension left by an earlier build of a module not compiled now would shadow its
        # .py (linkers.compiled would not load it, but a stale file is a trap)
        for name in COMPILED:
            if f"linkers.{name}" not in built:
                (ROOT / self.get_ext_filename(f"linkers.{name}")).unlink(missing_ok=True)

    def _compiled(self) -> list[str]:
        if self.reason is not None:
            return []
        return [ext.name for ext in self.extensions if ext.name not in self.not_compiled]

    def _failed(self, name: str, reason: str) -> None:
        self.not_compiled[name] = reason
        warn(f"{name} stays pure Python ({reason})")

    def _write_manifest(self, seconds: float) -> None:
        modules = {name: {"source_sha256": self.sources[name],
                          "extension": Path(self.get_ext_filename(name)).name}
                   for name in self._compiled()}
        manifest = {"reason": self.reason, "cython": getattr(self, "cython_version", None),
                    "python": sys.implementation.cache_tag, "flags": UNIX_FLAGS,
                    "optimised": {"modules": list(OPTIMISED), "flags": OPTIMISED_FLAGS},
                    "seconds": round(seconds, 1), "modules": modules,
                    "not_compiled": self.not_compiled}
        package_dir = ROOT / "linkers" if self.inplace else Path(self.build_lib) / "linkers"
        package_dir.mkdir(parents=True, exist_ok=True)
        (package_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        if modules:
            print(f"factlink: compiled {len(modules)} linkers modules with Cython in {seconds:.0f} s")

    def get_outputs(self):
        return [*super().get_outputs(),
                *([] if self.inplace else [str(Path(self.build_lib) / "linkers" / MANIFEST)])]


setup(ext_modules=[Extension(f"linkers.{name}", [str(source_of(name).relative_to(ROOT))])
                   for name in COMPILED],
      cmdclass={"build_ext": OptionalCythonBuild})
