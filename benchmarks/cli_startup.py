"""Start-up time of the commands that must not import torch: ``bench --help``, ``bench validate``
and ``bench compare``. Each command runs in a fresh interpreter, as a user would start it; we
report the median wall time over repeated runs and whether torch was imported.

    python benchmarks/cli_startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = "import sys, runpy; sys.argv = ['bench', *{args!r}]\ntry:\n    runpy.run_module('benchbench', run_name='__main__')\nexcept SystemExit:\n    pass\nprint('TORCH_IMPORTED', 'torch' in sys.modules, file=sys.stderr)"
BOARD = "dataset,model,variant,metric,mean,std,ci95,n_seeds,direction,rank,status\nd,m,v,nll,{mean},,,1,lower,1,ok\n"


def measure(args: list[str], repeats: int) -> tuple[float, bool]:
    times, imported = [], False
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
        imported = "TORCH_IMPORTED True" in done.stderr
    return statistics.median(times), imported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp, "a.csv"), Path(tmp, "b.csv")
        a.write_text(BOARD.format(mean=1.0))
        b.write_text(BOARD.format(mean=0.9))
        commands = {
            "bench --help": ["--help"],
            "bench validate suites/quick.toml": ["validate", "suites/quick.toml"],
            "bench compare A.csv B.csv": ["compare", str(a), str(b)],
            "python -c pass (interpreter alone)": None,
        }
        print(f"| command | median wall s ({repeats} runs) | imports torch |\n|---|---|---|")
        for name, args in commands.items():
            if args is None:
                start = time.perf_counter()
                for _ in range(repeats):
                    subprocess.run([sys.executable, "-c", "pass"])
                print(f"| {name} | {(time.perf_counter() - start) / repeats:.3f} | no |")
                continue
            median, imported = measure(args, repeats)
            print(f"| {name} | {median:.3f} | {'yes' if imported else 'no'} |")


if __name__ == "__main__":
    main()
