"""Executing one notebook: Papermill with an engine that reports each cell to the progress display, and a kernel
that runs in this interpreter's environment and writes its own output to a log file, not the terminal."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contentlab.report import own_cell_numbers
from contentlab.run.progress import Progress

KERNEL_NAME = "python3"  # jupyter_client starts it with the running interpreter (sys.executable)


def _engine_with_progress(on_cell: Callable[[Any, int], None]):
    from papermill.engines import NBClientEngine

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            original = nb_man.cell_start

            def cell_start(cell, cell_index=None, **kw):
                if cell_index is not None:
                    on_cell(nb_man.nb, cell_index)
                return original(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return ProgressEngine


def _kernel_manager(log_path: Path):
    """A kernel manager whose kernel process writes its own stdout/stderr to ``log_path``, not the terminal."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            # The notebooks run in this interpreter's environment, whatever a "python3" kernelspec
            # elsewhere on the machine says.
            cmd = super().format_kernel_cmd(extra_arguments)
            if cmd and "ipykernel_launcher" in cmd and self.kernel_spec.language == "python":
                cmd[0] = sys.executable
            return cmd

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            handle = open(log_path, "ab")  # noqa: SIM115 - handed to the kernel process
            kw.setdefault("stdout", handle)
            kw.setdefault("stderr", handle)
            try:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            finally:
                handle.close()  # the child process holds its own descriptor

    return LoggedKernelManager


_ENGINE = "contentlab-progress"


def execute_notebook(nb_path: Path, out_path: Path, params: dict, cwd: Path, progress: Progress,
                     cell_timeout: float | None, log_path: Path) -> None:
    """Execute one notebook with Papermill into ``out_path`` (raises on a failing cell)."""
    import papermill
    from papermill.engines import papermill_engines

    cache: dict[int, list[int | None]] = {}

    def on_cell(nb: Any, index: int) -> None:
        numbers = cache.get(len(nb.cells))
        if numbers is None:
            numbers = cache[len(nb.cells)] = own_cell_numbers(nb)
        progress.cell(numbers[index] if index < len(numbers) else None)

    papermill_engines.register(_ENGINE, _engine_with_progress(on_cell))
    papermill.execute_notebook(
        str(nb_path), str(out_path), parameters=params, engine_name=_ENGINE, kernel_name=KERNEL_NAME,
        progress_bar=False, log_output=False, cwd=str(cwd), request_save_on_cell_execute=True,
        execution_timeout=int(math.ceil(cell_timeout)) if cell_timeout else None,
        kernel_manager_class=_kernel_manager(log_path),
    )
