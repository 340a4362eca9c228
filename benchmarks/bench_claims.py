"""The paper's claims, measured: SDAR against GRPO and the OPSD family from one warm start, with seeds and verdicts.

Thin entry point of :mod:`sdar_agent.claims` (resumable; several processes may share one ``--work``)::

    python benchmarks/bench_claims.py --envs alfworld --tiers 1 2     # main arms first -> benchmarks/results/claims.*
    python benchmarks/bench_claims.py --envs alfworld --summarize-only   # report what is cached, list the rest
    python benchmarks/bench_claims.py --quick --out /tmp/claims-quick     # the pipeline in a few minutes (CI)
"""

import sys

from sdar_agent.claims import main

if __name__ == "__main__":
    sys.exit(main())
