"""``contentlab`` command line: ``contentlab run`` runs the pipeline's notebooks and publishes the reports;
``contentlab runs`` lists them; ``contentlab clean --keep N`` deletes all but the newest runs.

Exit status: 0 success, 1 a notebook failed (one line on stderr names it, the cell and the report),
2 a bad request (unknown profile, stage or parameter; nothing was run), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Sequence

EPILOG_RUN = """\
examples:
  contentlab run                                  # all stages, demo profile
  contentlab run --profile tiny                   # the small test profile
  contentlab run --profile my_shop.yaml           # a profile of your own
  contentlab run --only 03_recommend              # one stage; upstream products from the latest run
  contentlab run --incremental                    # reuse every stage whose inputs, parameters and code are unchanged
  contentlab run --only 02_profiling,03_recommend --from-run 20260101T020000-demo
  contentlab run --params seed=7 --params 01_eda.top_n=20 --params dataset.n_users=2000

reports go to reports/<run_id>/ (index.html, one .html and .ipynb per notebook, manifest.json);
reports/latest points at the newest run. CONTENTLAB_HOME moves data/ and reports/.
"""


def _parser() -> argparse.ArgumentParser:
    from contentlab import __version__

    parser = argparse.ArgumentParser(prog="contentlab", description="ContentLab analytics workbench.")
    parser.add_argument("--version", action="version", version=f"contentlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the pipeline's notebooks and write the reports",
                         description="Run the pipeline's notebooks with Papermill and write self-contained "
                                     "HTML reports, index.html and manifest.json to reports/<run_id>/.",
                         epilog=EPILOG_RUN, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--profile", default="demo", metavar="NAME|PATH",
                     help="run profile: a packaged name (demo, tiny) or a YAML file (default: demo)")
    run.add_argument("--only", action="append", metavar="STAGE[,STAGE]",
                     help="run only these stages; the other upstream stages' products are copied from --from-run")
    run.add_argument("--from-run", metavar="RUN_ID",
                     help="with --only: the run whose products feed the selected stages "
                          "(default: the latest successful run of the same profile)")
    run.add_argument("--params", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                     help="parameter override, value parsed as YAML; 'key=value' for every notebook declaring "
                          "key, 'stage.key=value' for one notebook, 'dataset.n_users=500' inside a dict; repeatable")
    run.add_argument("--incremental", action="store_true",
                     help="reuse the products and reports of every stage whose input products, parameters and code "
                          "match a stage an earlier run finished, instead of executing its notebook again")
    run.add_argument("--notebooks-dir", metavar="DIR", help="where the stage notebooks are (default: notebooks/)")
    run.add_argument("--run-id", metavar="ID", help="use this run id instead of <timestamp>-<profile>")
    run.add_argument("--cell-timeout", type=int, metavar="SECONDS",
                     help="fail a cell that runs longer than this (default: no limit)")
    run.add_argument("--quiet", action="store_true", help="no progress output")

    loop = sub.add_parser("loop", help="run the shop forward: N cycles of generate, publish, respond, learn",
                          description="Run CYCLES cycles of the profile, each a normal run whose 04 and 05 read what the "
                                      "cycle before learned (feedback priors with the publishing policy), and write "
                                      "reports/<loop-id>/index.html and manifest.json: CTR, CVR and revenue per "
                                      "impression per cycle against the oracle, the static template policy and "
                                      "random choices. Needs a simulated shop (dataset kind demo).")
    loop.add_argument("--profile", default="demo", metavar="NAME|PATH", help="run profile (default: demo)")
    loop.add_argument("--cycles", type=int, metavar="N",
                      help="number of cycles (default: the profile's loop.cycles, else 4)")
    loop.add_argument("--params", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                      help="parameter overrides for every cycle's run, as for `contentlab run`")
    loop.add_argument("--quiet", action="store_true", help="no progress output")
    sub.add_parser("runs", help="list the runs under reports/")
    clean = sub.add_parser("clean", help="delete old runs (reports and processed data), keep the newest",
                           description="Delete every run but the KEEP newest and the one reports/latest points at: "
                                       "reports/<run_id>/ and data/processed/<run_id>/. reports/index.html is "
                                       "rewritten to list what is left. Raw data and trained models are not touched.")
    clean.add_argument("--keep", type=int, default=1, metavar="N", help="how many of the newest runs to keep (default: 1)")
    clean.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    sub.add_parser("profiles", help="list the packaged run profiles")
    return parser


def _configure_logging() -> None:
    # Library chatter (papermill, nbclient, traitlets) and Python warnings go to stdout next to the
    # progress lines; stderr is kept for the one-line failure message.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("traitlets", "papermill", "nbclient"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # kernel tasks cut short by an interrupt
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
    logging.captureWarnings(True)


def _terminate(signum, frame):
    # SIGTERM (kill, CI time-outs) ends the run like Ctrl-C: the index records the interrupted notebook
    raise KeyboardInterrupt


def _cmd_run(args: argparse.Namespace) -> int:
    from contentlab import run
    from contentlab.fmt import display_path

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)

    progress = run.Progress(enabled=not args.quiet)
    try:
        result = run.run_pipeline(
            args.profile, only=args.only, params=args.params, notebooks_dir=args.notebooks_dir,
            run_id=args.run_id, from_run=args.from_run, cell_timeout=args.cell_timeout, progress=progress,
            incremental=args.incremental,
        )
    except run.RunError as exc:
        print(f"contentlab: error: {exc}", file=sys.stderr)
        return 2
    if result.interrupted:
        print(f"contentlab: run {result.run_id} interrupted; partial reports: {display_path(result.index)}",
              file=sys.stderr)
        return 130
    if not result.ok:
        print(result.failure_line(), file=sys.stderr)
        return 1
    progress.note(f"done: {display_path(result.index)}")
    return 0


def _cmd_loop(args: argparse.Namespace) -> int:
    from contentlab import run
    from contentlab.fmt import display_path
    from contentlab.loop import LoopError, run_loop

    progress = run.Progress(enabled=not args.quiet)
    try:
        result = run_loop(args.profile, args.cycles, progress=progress, params=args.params)
    except LoopError as exc:
        print(f"contentlab: error: {exc}", file=sys.stderr)
        return 1
    m = result.manifest["metrics"]
    progress.note("loop CTR per cycle: " + ", ".join(f"{x:.4f}" for x in m["cycle_ctr"])
                  + f" (oracle {m['oracle_ctr']:.4f}, template {m['template_ctr']:.4f}, random {m['random_ctr']:.4f})")
    progress.note(f"done: {display_path(result.index)}")
    return 0


def _cmd_runs() -> int:
    from contentlab import run

    runs = run.list_runs()
    if not runs:
        print("no runs yet")
        return 0
    latest = run.latest_pointer()
    for manifest in runs:
        statuses = ", ".join(f"{nb['name']}={nb['status']}" for nb in manifest.get("notebooks", []))
        mark = "*" if manifest.get("run_id") == latest else " "
        print(f"{mark} {manifest.get('run_id')}  {statuses}")
    return 0


def _cmd_clean(args: argparse.Namespace) -> int:
    from contentlab import run
    from contentlab.fmt import display_path

    try:
        result = run.clean_runs(keep=args.keep, dry_run=args.dry_run)
    except run.RunError as exc:
        print(f"contentlab: error: {exc}", file=sys.stderr)
        return 2
    verb = "would delete" if args.dry_run else "deleted"
    for path in result.paths:
        print(f"{verb} {display_path(path)}")
    print(f"{verb} {len(result.removed)} run{'' if len(result.removed) == 1 else 's'}, kept "
          f"{len(result.kept)}: {', '.join(result.kept) or 'none'}")
    return 0


def _cmd_profiles() -> int:
    from contentlab import run

    for name in run.available_profiles():
        profile = run.load_profile(name)
        print(f"{name:12s} {profile.get('description', '')}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    _configure_logging()
    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "loop":
            return _cmd_loop(args)
        if args.command == "runs":
            return _cmd_runs()
        if args.command == "clean":
            return _cmd_clean(args)
        if args.command == "profiles":
            return _cmd_profiles()
    except KeyboardInterrupt:
        print("contentlab: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command}")
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
