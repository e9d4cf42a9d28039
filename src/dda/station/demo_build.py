"""The demo's model build in one child process: `dda` steps run in-process one after the other,
so the interpreter and the heavy imports (torch) start once, not once per step. Each step prints
its command line and how long it took: the first `make run` shows where its minutes go.

    python -m dda.station.demo_build '<json list of argument lists>'
"""

from __future__ import annotations

import json
import sys
import time

from rich.console import Console

console = Console(stderr=True)


def run_steps(steps: list[list[str]]) -> int:
    from dda.cli.main import app

    for args in steps:
        console.print(f"[dim]$ dda {' '.join(args)}[/dim]")
        started = time.perf_counter()
        try:
            app(args, prog_name="dda", standalone_mode=False)
        except SystemExit as exc:  # a command's own exit (handle_errors raises typer.Exit)
            if exc.code not in (0, None):
                return int(exc.code) if isinstance(exc.code, int) else 1
        except Exception as exc:  # click errors (bad usage) and the like: shown, then fail
            console.print(f"[red]{exc}[/red]")
            return 1
        console.print(f"[dim]  done in {time.perf_counter() - started:.1f} s[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(run_steps(json.loads(sys.argv[1])))
