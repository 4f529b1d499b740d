"""Printing, saving and plotting benchmark results."""

from __future__ import annotations

import json
import os
import re
import platform
from collections import defaultdict
from datetime import datetime, timezone

import numpy as np
import scipy

__all__ = ["machine", "busy_warning", "fmt_time", "print_case", "print_summary", "write_json", "write_plot"]


BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def machine():
    """What the numbers were measured on, as a dict with a one-line ``summary``."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "load_average_1min": os.getloadavg()[0],
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    # Settings that change what BLAS runs: threads, and the forced kernel.
    blas_env = {k: os.environ[k] for k in BLAS_ENV if k in os.environ}
    info["environment"] = blas_env
    # Every BLAS and OpenMP library loaded, with its thread count, at the
    # start of the run (threadpoolctl, which matnn depends on).
    from threadpoolctl import threadpool_info

    info["threadpool_info"] = threadpool_info()
    import matnn

    info["matnn_threads"] = matnn.get_num_threads()
    info["summary"] = (
        f"{info['cores']} cores, {cpu}, numpy {info['numpy']}, scipy {info['scipy']}, "
        f"{info['blas']}"
        + "".join(f", {k}={v}" for k, v in blas_env.items())
    )
    return info


def busy_warning(info):
    """A warning when other work is running: it skews every timing, most of all
    multithreaded BLAS, whose threads then wait on each other."""
    load = info["load_average_1min"]
    if load < 0.5:
        return None
    return (f"warning: the machine was busy before the run (1-minute load {load:.2f}); "
            "timings will be noisy, above all multithreaded BLAS (the wide networks); "
            "OPENBLAS_NUM_THREADS=1 makes those steadier")


def fmt_time(seconds):
    """``1.23 ms``-style text, three significant digits."""
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _fmt_ratio(r):
    if r is None:
        return "-"
    return f"{r:.3g}x" if r < 100 else f"{r:,.0f}x"


def _target_text(result):
    if result.target is None:
        return ""
    op, goal = result.target
    return f"{op} {goal:g} {'met' if result.met else 'MISSED'}"


def _metrics_text(result):
    parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
             for k, v in result.metrics.items() if k != "value"]
    if result.note:
        parts.append(result.note)
    return "; ".join(parts)


def print_case(rows):
    """Print one case's rows as an aligned table."""
    if not rows:
        return
    # A case may compare against several peers: name them all in the header.
    a_label = " / ".join(dict.fromkeys(r.a.label for r in rows if r.a)) or "a"
    b_label = " / ".join(dict.fromkeys(r.b.label for r in rows if r.b)) or "b"
    header = ["size", "dtype", a_label, b_label, "b per sample", "a/b", "target", "agree", ""]
    table = [header]
    for r in rows:
        per_sample = r.b.median / r.n_samples if (r.b and r.n_samples) else None
        table.append([
            r.size, r.dtype,
            fmt_time(r.a.median if r.a else None),
            fmt_time(r.b.median if r.b else None),
            fmt_time(per_sample),
            _fmt_ratio(r.ratio),
            _target_text(r),
            "yes" if r.agreed else "NO",
            _metrics_text(r),
        ])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    for r in rows:
        if not r.agreed:
            print(f"  ! {r.size} {r.dtype}: sides disagree: {r.agreement}")


def print_summary(results, elapsed, quick):
    """Print every targeted ratio and whether it was met, and any disagreement."""
    print(f"\n== targets ({elapsed:.1f} s in all)")
    if quick:
        print("  (quick run: sizes are tiny, so these are not the ratios the targets mean)")
    for r in results:
        if r.target is not None:
            value = r.ratio if r.ratio is not None else r.metrics.get("value")
            print(f"  {r.case:10} {r.size:28} {r.dtype:8} {value:10.4g}  {_target_text(r)}")
    bad = [r for r in results if not r.agreed]
    if bad:
        print(f"\n{len(bad)} comparison(s) DISAGREED; their timings mean nothing.")
    else:
        print(f"\nall {len(results)} comparisons agreed before timing.")


def write_json(path, results, info, quick, elapsed, titles=None):
    """Save the raw results (and each case's one-line title); return the path."""
    doc = {
        "machine": info,
        "quick": quick,
        "elapsed_s": elapsed,
        "titles": titles or {},
        "results": [r.to_json() for r in results],
    }
    path.write_text(json.dumps(doc, indent=1))
    return path


#: Cases drawn in another case's panel: the memory case's one N (10^7)
#: extends the gradient curve.
PANELS = {"memory": "gradient"}


def write_plot(path, results):
    """Log-log plot of time per sample against N; return a line saying what happened.

    matplotlib is optional: without it nothing is drawn and the line says so.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ("plot skipped: matplotlib is not installed "
                "(pip install 'matnn[plot]' to get time_per_sample.png)")
    series = defaultdict(list)
    for r in results:
        if not re.fullmatch(r"N=\d+", r.size) or not r.n_samples:
            continue
        for side in (r.a, r.b):
            if side is not None:
                series[(PANELS.get(r.case, r.case), f"{side.label}, {r.dtype}")].append(
                    (r.n_samples, side.median / r.n_samples))
    # Only cases that vary N get a panel.
    cases = sorted({case for case, _ in series
                    if len({n for (c, _), pts in series.items() if c == case for n, _ in pts}) > 1})
    if not cases:
        return "plot skipped: no case varies N"
    fig, axes = plt.subplots(1, len(cases), figsize=(6 * len(cases), 4.5), squeeze=False)
    for ax, case in zip(axes[0], cases):
        for (c, label), points in sorted(series.items()):
            if c != case:
                continue
            points.sort()
            ax.loglog([n for n, _ in points], [t for _, t in points], "o-", label=label)
        ax.set_title(case)
        ax.set_xlabel("N (samples per call)")
        ax.set_ylabel("seconds per sample")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"plot: {path}"
