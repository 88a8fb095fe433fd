"""``contentlab loop``: the shop run forward in time (:mod:`contentlab.loop.engine`), its yardsticks
(:mod:`contentlab.loop.arms`) and its report (:mod:`contentlab.loop.report`)."""

from contentlab.loop.engine import DEFAULT_CYCLES, Cycle, LoopError, LoopResult, loop_settings, run_loop

__all__ = ["Cycle", "DEFAULT_CYCLES", "LoopError", "LoopResult", "loop_settings", "run_loop"]
