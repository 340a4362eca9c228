"""The leaderboard's script (``make demo`` runs ``--quick``): :mod:`sdar_agent.leaderboard`, as ``sdar leaderboard``.

Examples::

    python benchmarks/leaderboard.py --quick                      # make demo: train GRPO + SDAR briefly, evaluate all
    python benchmarks/leaderboard.py --runs runs/grpo runs/sdar --model runs/base/model --seeds 3
    python benchmarks/leaderboard.py --envs searchqa --agents random expert --per-group 50
"""

import sys

from sdar_agent.leaderboard import main

if __name__ == "__main__":
    sys.exit(main())
