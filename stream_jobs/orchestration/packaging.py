"""The project's code as one file Spark ships to its executors (``clickloop spark package``).

A job launched on a cluster runs Python on machines that do not have this checkout: the
executors' Python workers (Python UDFs) import ``tracker``, ``enrichment``, ``stream_jobs`` …
from wherever the driver told Spark to look. The PySpark way is ``--py-files`` /
``spark.submit.pyFiles``: Spark copies each file to every executor and puts it on the
workers' ``sys.path`` (and on the driver's). Nothing then depends on the driver's absolute
venv path.

:func:`build` writes a standard wheel (``clickloop-<version>-py3-none-any.whl``: installable
with pip on a worker image) and the same archive as ``clickloop-<version>.zip``, because PySpark
only puts ``.zip``/``.egg``/``.jar`` py-files on ``sys.path`` (a wheel of pure-Python packages is
a zip with the packages at its root, so the bytes are the same). Beside them goes
``clickloop_submit.py``, the small main file ``spark-submit`` needs: it runs a job module
(``stream_jobs.sessions.job`` …) found in the archive.

The wheel is written here with :mod:`zipfile` rather than by a build backend: no build
folders or ``*.egg-info`` land in the checkout, no network is needed, and the same sources
always give the same bytes (fixed timestamps, sorted entries). What goes in is what
``pyproject.toml`` declares: its ``packages.find`` includes and ``package-data`` patterns.
Third-party dependencies are not in it: the workers' Python needs those that executor-side code
imports (none for sessionize and reports, which use Spark's own functions; pandas and pyarrow
for the log parser's pandas UDFs), installed there or shipped as a packed environment through
``spark.archives`` (docs/airflow.md#running-on-a-spark-cluster).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # zip entries' timestamp: identical sources, identical bytes
SUBMIT_MAIN = "clickloop_submit.py"
SUBMIT_SOURCE = '''"""spark-submit main for clickloop: runs a job module from the shipped archive.

    spark-submit --py-files clickloop-<version>.zip clickloop_submit.py stream_jobs.sessions.job \\
        --start 2024-03-01 --end 2024-03-07
"""
import runpy
import sys

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: clickloop_submit.py MODULE [ARGS...]")
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
'''


@dataclass(frozen=True)
class Package:
    """What :func:`build` wrote."""

    wheel: Path
    py_files: Path
    submit_main: Path
    modules: int


def project_metadata(root: Path) -> dict:
    """``[project]`` and the setuptools package rules of ``root/pyproject.toml``."""
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = data.get("tool", {}).get("setuptools", {})
    return {
        "name": data["project"]["name"],
        "version": data["project"]["version"],
        "requires_python": data["project"].get("requires-python"),
        "dependencies": data["project"].get("dependencies", []),
        "include": setuptools.get("packages", {}).get("find", {}).get("include", []),
        "package_data": setuptools.get("package-data", {}).get("*", []),
    }


def package_files(root: Path, include: list[str], data_patterns: list[str]) -> list[Path]:
    """Files of the packages matching ``include`` (folders with ``__init__.py``, their
    ``.py`` files and data files matching ``data_patterns``), relative to ``root``, sorted."""
    files: list[Path] = []
    for init in sorted(root.rglob("__init__.py")):
        package = init.parent.relative_to(root)
        dotted = ".".join(package.parts)
        if any(part.startswith(".") or part == "node_modules" for part in package.parts):
            continue
        if not any(fnmatch.fnmatch(dotted, pattern) for pattern in include):
            continue
        if not all((root / Path(*package.parts[:i]) / "__init__.py").is_file()
                   for i in range(1, len(package.parts) + 1)):
            continue  # a folder inside a non-package (e.g. test data)
        for path in sorted(init.parent.iterdir()):
            if path.is_file() and (path.suffix == ".py" or any(
                    fnmatch.fnmatch(path.name, p) for p in data_patterns)):
                files.append(path.relative_to(root))
    return files


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def wheel_bytes(root: Path, meta: dict, files: list[Path]) -> dict[str, bytes]:
    """Every entry of the wheel (name → content), dist-info and RECORD included."""
    dist_info = f"{meta['name']}-{meta['version']}.dist-info"
    entries = {path.as_posix(): (root / path).read_bytes() for path in files}
    metadata = ["Metadata-Version: 2.1", f"Name: {meta['name']}",
                f"Version: {meta['version']}"]
    if meta["requires_python"]:
        metadata.append(f"Requires-Python: {meta['requires_python']}")
    metadata += [f"Requires-Dist: {dep}" for dep in meta["dependencies"]]
    entries[f"{dist_info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    entries[f"{dist_info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: clickloop spark package\n"
                                     b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = [_record_line(name, data) for name, data in entries.items()]
    record.append(f"{dist_info}/RECORD,,")
    entries[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    return entries


def _write_zip(path: Path, entries: dict[str, bytes]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    tmp.replace(path)  # never a half-written archive under the real name


def build(root: Path, out_dir: Path) -> Package:
    """Write the wheel, its ``.zip`` twin and the submit main into ``out_dir``."""
    meta = project_metadata(root)
    files = package_files(root, meta["include"], meta["package_data"])
    if not files:
        raise ValueError(f"no package matching {meta['include']} under {root}")
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{meta['name']}-{meta['version']}"
    entries = wheel_bytes(root, meta, files)
    wheel = out_dir / f"{stem}-py3-none-any.whl"
    py_files = out_dir / f"{stem}.zip"
    _write_zip(wheel, entries)
    _write_zip(py_files, entries)
    submit_main = out_dir / SUBMIT_MAIN
    submit_main.write_text(SUBMIT_SOURCE, encoding="utf-8")
    return Package(wheel=wheel, py_files=py_files, submit_main=submit_main,
                   modules=sum(1 for f in files if f.suffix == ".py"))
