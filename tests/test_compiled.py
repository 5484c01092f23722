"""The linking core compiled with Cython (setup.py) gives the output of its pure-Python source,
and never runs stale: a module edited after the build, or any module under
``FACTLINK_PURE_PYTHON=1``, loads from its .py (``linkers/compiled.py``).

The comparison links every public benchmark text, the news suite and the synthetic texts of
``bench.outputs`` compiled in this process and pure in a subprocess, and compares the digests
of the exact JSON (confidences bit-identical). Where a C compiler exists it fails when the
compiled modules are not the ones loaded, so CI cannot pass while silently running pure.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from wikidata_dump import shared_data_dir

from linkers import compiled

ROOT = Path(__file__).resolve().parent.parent
EXTENSION = importlib.machinery.EXTENSION_SUFFIXES[0]


def c_compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("cc") or shutil.which("gcc")


def run_python(code: str, *args: str, cwd: Path, pure: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != compiled.PURE_ENV}
    env["FACTLINK_SHARED_DATA"] = str(shared_data_dir())
    if pure:
        env[compiled.PURE_ENV] = "1"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240)


def test_compiled_and_pure_python_link_every_public_text_the_same(full_kb, tmp_path, capsys):
    if not (shared_data_dir() / "bench").is_dir():
        pytest.skip(f"public benchmark texts not present at {shared_data_dir() / 'bench'}")
    if c_compiler() is None:
        pytest.skip("no C compiler on this machine: linkers runs pure Python only")
    for name in compiled.guarded():
        importlib.import_module(name)
    assert compiled.guarded() and compiled.loaded_compiled() == compiled.guarded(), (
        f"a C compiler is here but the linking core is not running compiled: "
        f"{compiled.describe()}; `pip install -e .` compiles it")
    failed = json.loads(compiled.MANIFEST.read_text())["not_compiled"]
    assert not failed, (f"modules setup.py lists did not compile (fix them, or take them out of "
                        f"setup.py's COMPILED): {failed}")
    pure_digests = tmp_path / "pure.jsonl"
    pure = run_python(
        "import sys; from linkers import compiled; from bench import outputs\n"
        "code = outputs.main(['--write', sys.argv[1], '--kb', sys.argv[2]])\n"
        "assert not compiled.loaded_compiled(), compiled.loaded_compiled()\n"
        "print(compiled.describe()); sys.exit(code)\n", str(pure_digests), str(full_kb),
        cwd=ROOT, pure=True)
    assert pure.returncode == 0, pure.stderr
    assert "pure Python (FACTLINK_PURE_PYTHON=1)" in pure.stdout
    from bench import outputs
    same = outputs.main(["--check", str(pure_digests), "--kb", str(full_kb)])
    report = capsys.readouterr().out
    assert same == 0, report
    documents = sum(1 for _ in pure_digests.open())
    public = sum(1 for path in (shared_data_dir() / "bench").glob("*.jsonl")
                 for line in path.open() if line.strip())
    assert documents > public >= 1000 and f"{documents}/{documents} documents give the same" in report


def guarded_tree(tmp_path: Path) -> Path:
    """A copy of linkers/ with its compiled files; where this install has none (no compiler),
    spotter gets a compiled file that is not one, which must never be loaded."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "linkers", tree / "linkers", ignore=shutil.ignore_patterns("__pycache__"))
    package = tree / "linkers"
    fake = package / f"spotter{EXTENSION}"
    if not fake.is_file():
        fake.write_bytes(b"not a shared object")
        (package / "compiled.json").write_text(json.dumps({"reason": None, "modules": {
            "linkers.spotter": {"extension": fake.name, "source_sha256": hashlib.sha256(
                (package / "spotter.py").read_bytes()).hexdigest()}}}))
    return tree


PROBE = ("import json, linkers, linkers.spotter, linkers.ranker, linkers.linker, linkers.text\n"
         "from linkers import compiled\n"
         "print(json.dumps({'spotter': linkers.spotter.__file__, 'ranker': linkers.ranker.__file__,"
         " 'linker': linkers.linker.__file__, 'text': linkers.text.__file__,"
         " 'ranker_knows_compiled': linkers.ranker.COMPILED,"
         " 'mode': compiled.describe(), 'loaded': compiled.loaded_compiled()}))\n")


def test_a_module_edited_after_the_build_runs_from_its_source_with_one_warning(tmp_path):
    tree = guarded_tree(tmp_path)
    really_compiled = "linkers.ranker" in compiled.loaded_compiled()
    with open(tree / "linkers" / "spotter.py", "a") as source:
        source.write("\nEDITED_AFTER_THE_BUILD = True\n")
    run = run_python(PROBE + "assert linkers.spotter.EDITED_AFTER_THE_BUILD\n", cwd=tree)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["spotter"].endswith("spotter.py")
    warnings = [line for line in run.stderr.splitlines() if "changed since compiled" in line]
    assert len(warnings) == 1 and "linkers.spotter" in warnings[0] and "pip install -e ." in warnings[0]
    if really_compiled:
        # the ranker and the linker cimport the spotter's types (``Span``): compiled, they
        # would refuse to import beside its pure-Python class, so they run pure with it, and
        # the warning says so; the modules left alone still run compiled
        assert seen["ranker"].endswith("ranker.py") and seen["linker"].endswith("linker.py")
        assert "linkers.ranker" in warnings[0] and "linkers.linker" in warnings[0]
        assert seen["text"].endswith(EXTENSION) and "linkers.text" in seen["loaded"]
        assert seen["mode"].startswith("partly compiled")
        pure = seen["mode"].split("pure: ")[1].rstrip(")").split(", ")
        assert set(pure) == {"linkers.spotter"} | cimporting("linkers.spotter")


def test_a_module_nothing_cimports_goes_stale_alone(tmp_path):
    """Edited after the build, a module whose types no other .pxd cimports runs pure alone."""
    tree = guarded_tree(tmp_path)
    if "linkers.text" not in compiled.loaded_compiled():
        return          # no compiled text module in this install to go stale
    with open(tree / "linkers" / "text.py", "a") as source:
        source.write("\nEDITED_AFTER_THE_BUILD = True\n")
    run = run_python(PROBE, cwd=tree)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["text"].endswith("text.py")
    assert all(seen[name].endswith(EXTENSION) for name in ("spotter", "ranker", "linker"))
    assert seen["ranker_knows_compiled"]        # and so takes its typed kernels
    assert seen["mode"].startswith("partly compiled") and seen["mode"].endswith("pure: linkers.text)")


def cimporting(module: str) -> set[str]:
    """The guarded modules that cimport ``module``'s types, directly or through another."""
    found: set[str] = set()
    more = {module}
    while more:
        more = {m for m in compiled.guarded() if compiled.cimported(m) & more} - found
        found |= more
    return found


def test_the_guard_reads_which_modules_cimport_which():
    """What ``_pure_with_what_they_cimport`` follows: the cimports written in each .pxd."""
    assert compiled.cimported("linkers.linker") == {"linkers.spotter", "linkers.ranker"}
    assert "linkers.spotter" in compiled.cimported("linkers.ranker")
    assert compiled.cimported("linkers.text") == set()
    if "linkers.spotter" in compiled.guarded():
        assert {"linkers.linker", "linkers.ranker"} <= cimporting("linkers.spotter")


def test_a_pxd_edited_after_the_build_makes_its_module_stale(tmp_path):
    """The .pxd that types a module's kernels (``text.pxd``) is part of what was compiled:
    edited after the build, the module runs from its .py with the warning, as for an edited .py."""
    tree = guarded_tree(tmp_path)
    source, pxd = tree / "linkers" / "text.py", tree / "linkers" / "text.pxd"
    before = compiled.source_digest(source)
    pxd.write_text(pxd.read_text() + "\n# edited after the build\n")
    assert compiled.source_digest(source) != before
    if "linkers.text" not in compiled.loaded_compiled():
        return          # no compiled text module in this install to go stale
    run = run_python("import json, linkers, linkers.text\nprint(json.dumps(linkers.text.__file__))\n", cwd=tree)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout).endswith("text.py")
    assert any("changed since compiled" in line and "linkers.text" in line for line in run.stderr.splitlines())


def test_factlink_pure_python_loads_every_module_from_its_source(tmp_path):
    tree = guarded_tree(tmp_path)
    run = run_python(PROBE, cwd=tree, pure=True)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["spotter"].endswith("spotter.py") and seen["ranker"].endswith("ranker.py")
    assert not seen["ranker_knows_compiled"]        # the dicts, the interpreter's fastest form
    assert seen["loaded"] == [] and seen["mode"] == "pure Python (FACTLINK_PURE_PYTHON=1)"
    assert "changed since compiled" not in run.stderr


def test_the_build_without_a_working_compiler_or_cython_installs_pure_python(tmp_path):
    """setup.py's fallback: the build succeeds, says why in one line, and leaves no compiled
    file behind (here in a copy, built in place as ``pip install -e .`` builds)."""
    pytest.importorskip("setuptools")
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "linkers", tree / "linkers", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    env = dict(os.environ, CC="false")
    env.pop(compiled.PURE_ENV, None)
    build = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tree,
                           env=env, capture_output=True, text=True, timeout=240)
    assert build.returncode == 0, build.stderr
    warnings = [line for line in build.stderr.splitlines() if line.startswith("WARNING: factlink")]
    assert len(warnings) == 1 and "linkers stays pure Python" in warnings[0], build.stderr
    manifest = json.loads((tree / "linkers" / "compiled.json").read_text())
    assert manifest["modules"] == {} and manifest["reason"]
    assert not list((tree / "linkers").rglob(f"*{EXTENSION}"))
    run = run_python(PROBE, cwd=tree)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["spotter"].endswith("spotter.py") and seen["mode"].startswith("pure Python (not compiled")


def test_factlink_version_says_whether_the_linker_runs_compiled():
    run = run_python("from service.cli import main; main(['--version'])", cwd=ROOT, pure=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("factlink ") and run.stdout.rstrip().endswith(
        "linker: pure Python (FACTLINK_PURE_PYTHON=1)")
    # and which interpreter build runs it: the executable behind the venv's link, and whether
    # its core is a shared libpython (as this process finds it in its own memory map)
    import platform
    maps = Path("/proc/self/maps")
    linkage = ("shared" if "/libpython" in maps.read_text() else "static") if maps.exists() else ""
    assert (f"CPython {platform.python_version()} ({os.path.realpath(sys.executable)}, "
            f"libpython {linkage}") in run.stdout


SOFTMAX_EDGES = """
import json, math
from linkers import compiled
from linkers.ranker import Scored, _rescored, _softmax
out = {"mode": compiled.describe()}
rows = [[Scored(1, 0.25)], [Scored(2, 1.5), Scored(3, -0.5), Scored(4, 1.5)], [], [Scored(5, -0.0)]]
_softmax(rows, -0.0, 0.7)
out["shares"] = [[c.prob.hex() for c in row] for row in rows]
moved = _rescored(rows, [[0.5], [1.0, 2.0, 3.0], [], [0.0]], {(1, 3): 2.5, (0, 1): 0.0},
                  {(1, 2): -0.25}, 0.3, 0.9)
out["moved"], out["scores"] = moved, [[c.score.hex() for c in row] for row in rows]
for name, call in (("overflow", lambda: _softmax([[Scored(1, 0.0), Scored(2, 1000.0)]], 0.0, -1.0)),
                   ("zero", lambda: _softmax([[Scored(1, 0.0)]], 0.0, 0.0)),
                   ("domain", lambda: _rescored([[Scored(1, 0.0)]], [[0.0]], {(0, 1): -1.0}, {}, 1.0, 1.0))):
    try:
        call()
        out[name] = None
    except Exception as exc:
        out[name] = type(exc).__name__
print(json.dumps(out))
"""


def test_the_typed_softmax_and_rescoring_give_the_floats_and_errors_of_their_source():
    """Compiled, ``_softmax`` and ``_rescored`` use libm's exp and log1p on C doubles: the same
    floats as the source's ``math`` calls, bit for bit, and the same errors (an overflow, a
    zero temperature, a support at -1)."""
    runs = [json.loads(run.stdout) for run in (run_python(SOFTMAX_EDGES, cwd=ROOT),
                                                run_python(SOFTMAX_EDGES, cwd=ROOT, pure=True))]
    if c_compiler() and compiled.describe().startswith("compiled"):
        assert runs[0]["mode"].startswith("compiled")
    assert runs[1]["mode"].startswith("pure Python")
    assert {k: v for k, v in runs[0].items() if k != "mode"} == {k: v for k, v in runs[1].items() if k != "mode"}
    assert runs[0]["overflow"] == "OverflowError" and runs[0]["zero"] == "ZeroDivisionError"
    assert runs[0]["domain"] == "ValueError" and runs[0]["moved"] == [0, 1]
