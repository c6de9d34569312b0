"""What a result was measured on, stored with every record (harness conventions §1.10)."""

from __future__ import annotations

import functools
import os
import platform
import re
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "segmentation-models-pytorch", "fvcore", "timm", "torch-pruning", "numpy", "morph-bench")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def environment() -> dict[str, Any]:
    """Git state, package versions, Python, devices and threads, as a JSON-ready dict.

    Git and ``/proc/cpuinfo`` are read once per process; the thread count is read on every call because the
    harness changes it. Missing tools (no git, no CUDA) give None, never an error.
    """
    import torch

    cuda = torch.cuda.is_available()
    cudnn = torch.backends.cudnn.version() if cuda else None
    return {
        **_git(),
        "packages": _packages(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "cpu": cpu_model(),
        "cpu_count": _cpu_count(),
        "torch_threads": torch.get_num_threads(),
        # how the count was chosen, and how idle OpenMP threads wait (bench.executors.threads)
        "threads_choice": os.environ.get("MORPH_BENCH_THREADS_CHOICE"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
        "torch_git": getattr(torch.version, "git_version", None),
        "cuda": torch.version.cuda if cuda else None,
        "cudnn": cudnn,
        "device": torch.cuda.get_device_name() if cuda else cpu_model(),
        "gpu_count": torch.cuda.device_count() if cuda else 0,
        "cpu_capability": _cpu_capability(),
        "math_libraries": math_libraries(),
    }


def machine_id(env: dict[str, Any] | None = None) -> str:
    """A folder- and stage-name-safe slug of hostname and device, e.g. ``node7-nvidia-h100-80gb-hbm3``."""
    env = env if env is not None else environment()
    text = f"{env.get('hostname', 'unknown')}-{env.get('device') or 'cpu'}"
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


@functools.cache
def _git() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


@functools.cache
def _packages() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@functools.cache
def cpu_model() -> str:
    """The CPU's marketing name from ``/proc/cpuinfo`` (Linux), else what :mod:`platform` knows."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else (platform.processor() or platform.machine() or sys.platform)


def _cpu_count() -> int | None:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


#: ``torch.__config__.show()`` lines naming a math library: (key, pattern whose group 1 is the version text).
_LIBRARIES = (
    ("mkl", r"Math Kernel Library Version (\S+(?: Build \d+)?)"),
    ("onednn", r"(?:MKL-DNN|oneDNN) (v[\w.]+(?: \(Git Hash \w+\))?)"),
    ("openmp", r"OpenMP (\d+)"),
    ("openblas", r"OpenBLAS ([\w.]+)"),
    ("blas", r"BLAS_INFO=(\w+)"),
    ("lapack", r"LAPACK_INFO=(\w+)"),
)


@functools.cache
def math_libraries() -> dict[str, str | None]:
    """The math libraries torch was built with, from ``torch.__config__.show()``: MKL, oneDNN, OpenMP, OpenBLAS
    versions and the BLAS/LAPACK provider (None where absent), so a Dice that moves on another CPU can be traced
    to a different kernel library."""
    import torch

    text = torch.__config__.show()
    found = {key: re.search(pattern, text) for key, pattern in _LIBRARIES}
    return {key: m.group(1) if m else None for key, m in found.items()}


def _cpu_capability() -> str | None:
    """The SIMD level torch's CPU kernels dispatch to here (e.g. "AVX512", "AVX2", "DEFAULT")."""
    import torch

    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return None
