"""Where the agent's anonymous memory goes, at 1 000 beacons x 3 scanners (the soak's crowd).

    python bench/memory.py            # 60 s of crowd, then a tracemalloc snapshot
    python bench/memory.py --quick    # 5 s of a 200-beacon crowd

The daemon `edge-agent run` becomes runs in this process under tracemalloc (25 frames) while bench/soak.py's crowd
publishes from another; then the Python allocations still alive are grouped by who made them:
the package whose code was running (a library, or an edge_agent subpackage), with imports
counted for the importing package. What tracemalloc cannot see (onnxruntime's session, SQLite's
page caches, numpy buffers, malloc arenas, thread stacks) is RssAnon minus the traced total.
Prints one JSON object as its last line: rss_anon_mb (less tracemalloc's own bookkeeping),
traced_mb, native_mb, top (ten groups, MB each).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import tracemalloc
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from soak import CROWD, crowd_config, soak  # noqa: E402

from edge_agent.config.agent import load_config  # noqa: E402
from edge_agent.runtime.control import query_status  # noqa: E402
from edge_agent.sim.broker import MosquittoBroker  # noqa: E402
from edge_agent.testing.wait import wait_until  # noqa: E402


def owner(frames: list[str]) -> str:
    """The package that allocated: the innermost frame outside the import machinery."""
    for file in reversed(frames):  # tracemalloc lists the outermost frame first
        if "importlib" in file or file.startswith("<frozen"):
            continue
        if "site-packages/" in file:
            return file.split("site-packages/")[1].split("/")[0].removesuffix(".py")
        if "/edge_agent/" in file:
            return "edge_agent." + file.split("/edge_agent/")[1].split("/")[0].removesuffix(".py")
        return "stdlib:" + Path(file).stem
    return "imports"


def measure(port: int, config: Path, seconds: float, out: dict[str, object], beacons: int) -> None:
    socket_path = load_config(config).socket_path
    wait_until(lambda: (query_status(socket_path) or {}).get("running") is True, within=120)
    subprocess.run([sys.executable, "-c", CROWD, str(port), str(beacons), str(seconds)], stdout=subprocess.DEVNULL)
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    groups: Counter[str] = Counter()
    for stat in snapshot.statistics("traceback"):
        groups[owner([f.filename for f in stat.traceback])] += stat.size
    anon_kb = next(
        int(x.split()[1]) for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("RssAnon")
    )
    out.update(
        rss_anon_traced_mb=round(anon_kb / 1024, 1),
        traced_mb=round(sum(groups.values()) / 2**20, 1),
        top={name: round(size / 2**20, 2) for name, size in groups.most_common(10)},
    )
    os.kill(os.getpid(), signal.SIGTERM)


def traced(seconds: float, beacons: int) -> dict[str, object]:
    """In this process, which `python -X tracemalloc=25` started: imports are traced too."""
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp, MosquittoBroker() as broker:
        path = crowd_config(Path(tmp), broker)
        threading.Thread(target=measure, args=(broker.port, path, seconds, out, beacons), daemon=True).start()
        from edge_agent.runtime.daemon import main as daemon  # what `edge-agent run` becomes

        daemon(["--config", str(path)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    seconds = 5.0 if args.quick else args.seconds
    beacons = 200 if args.quick else 1000  # --quick checks the shape; the figures are the full run's
    if args.traced:
        print(json.dumps(traced(seconds, beacons)))
        return
    # Untraced first (tracemalloc's own bookkeeping would inflate RssAnon), then traced; --quick only
    # checks the shape and takes RssAnon from the traced run.
    anon = 0.0 if args.quick else float(soak(seconds, beacons)["rss_anon_mb_steady"])  # type: ignore[arg-type]
    run = subprocess.run(
        # --quick keeps one frame per allocation: far faster, the same total, attributed coarsely
        [
            sys.executable,
            "-X",
            f"tracemalloc={1 if args.quick else 25}",
            __file__,
            "--traced",
            "--seconds",
            str(seconds),
        ]
        + (["--quick"] if args.quick else []),
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(run.stdout.strip().splitlines()[-1])
    if args.quick:  # tracemalloc's bookkeeping is in this figure: the shape, not the measurement
        anon, found["rss_anon_includes_tracemalloc"] = found["rss_anon_traced_mb"], True
    print(json.dumps({"rss_anon_mb": anon, **found, "native_mb": round(anon - found["traced_mb"], 1)}))


if __name__ == "__main__":
    main()
