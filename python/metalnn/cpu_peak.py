"""The CPU's peak float32 throughput, the yardstick for per-layer and whole-model GFLOP/s."""
from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CpuPeak:
    gflops: float
    how: str  # the product that gives it, for a table's header


def cpu_peak(threads: int, clock_ghz: float | None = None, fma_units: int = 2) -> CpuPeak:
    """Peak fp32 GFLOP/s of `threads` cores: threads x lanes x 2 (an FMA is two FLOPs) x FMA pipes x clock.

    Lanes come from the widest vector extension the CPU reports (AVX-512: 16, AVX2: 8, SSE/NEON: 4);
    the clock is the highest frequency /proc/cpuinfo reports (3 GHz where it reports none) unless
    `clock_ghz` is given.
    """
    flags, ghz = "", None
    try:
        text = Path("/proc/cpuinfo").read_text()
        flags = next((line.split(":", 1)[1] for line in text.splitlines() if line.startswith("flags")), "")
        mhz = [float(line.split(":", 1)[1]) for line in text.splitlines() if line.startswith("cpu MHz")]
        if mhz:
            ghz = max(mhz) / 1000
    except (OSError, ValueError):
        pass
    flagset = set(flags.split())
    if "avx512f" in flagset:
        lanes, isa = 16, "AVX-512"
    elif "avx2" in flagset and "fma" in flagset:
        lanes, isa = 8, "AVX2+FMA"
    elif platform.machine() in ("arm64", "aarch64"):
        lanes, isa = 4, "NEON"
    else:
        lanes, isa, fma_units = 4, "SSE", 1
    ghz = clock_ghz or ghz or 3.0
    gflops = threads * lanes * 2 * fma_units * ghz
    how = (f"{threads} cores x {lanes} fp32 lanes ({isa}) x 2 FLOP/FMA x {fma_units} FMA pipes x {ghz:.2f} GHz "
           "(the reported clock; turbo can run above it)")
    return CpuPeak(gflops, how)
