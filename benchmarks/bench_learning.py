"""Learning benchmark: random, expert, SFT and SFT + GRPO on held-out tasks, with seeds and 95% intervals.

Thin entry point of :mod:`sdar_agent.learning` (resumable: cells and runs are cached under ``--work``)::

    python benchmarks/bench_learning.py                       # all envs, 3 seeds -> benchmarks/results/learning.*
    python benchmarks/bench_learning.py --envs searchqa --methods grpo sdar
    python benchmarks/bench_learning.py --quick --out /tmp/learning-quick   # the pipeline in a few minutes (CI)
"""

import sys

from sdar_agent.learning import main

if __name__ == "__main__":
    sys.exit(main())
