"""How long ``bench report`` takes and how large its file is, for a run folder.

Builds the report of RUN_DIR ``--repeats`` times in this process (the first build pays the
imports of torch, matplotlib and the plugins, reported apart) and prints the median of the later
builds and the file's size. The bars: under 30 s and 5 MB for the quick suite's run.

    python benchmarks/report_build.py results/quick/reference [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchbench.report.build import write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seconds = []
        for i in range(args.repeats + 1):
            start = time.perf_counter()
            out = write_report(args.run_dir, Path(tmp) / "report.html")
            seconds.append(time.perf_counter() - start)
        size = out.stat().st_size
    print(f"{args.run_dir}: first build (imports included) {seconds[0]:.2f} s; "
          f"median of {args.repeats} later builds {statistics.median(seconds[1:]):.2f} s; {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
