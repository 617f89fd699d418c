"""The command line: arguments, printing diagnostics, exit codes.

Exit status: 0 success, 1 content errors, 2 usage errors (argparse's own convention),
3 the build itself failed (a worker process died, or the system failed a write: a full
disk, a file gone since the walk), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import NoReturn

from . import __version__
from .errors import BuildFailed, Report, WorkerError, printable
from .options import Options, Result, default_jobs
from .pipeline import run

EXIT_OK, EXIT_CONTENT, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=Path(sys.argv[0]).name or "build.py",
        description="Build the cited explainer from content/, templates/ and static/.",
        epilog="With no command, 'build' is run.",
    )
    parser.add_argument("--version", action="version", version=f"sitegen {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    build = commands.add_parser("build", help="build the site into site/ (the default)")
    check = commands.add_parser("check", help="validate everything, write nothing")
    for sub in (build, check):
        sub.add_argument("--drafts", action="store_true", help="include draft pages")
        sub.add_argument("--strict", action="store_true", help="treat warnings as errors")
    build.add_argument("--out", type=Path, default=None, help="output folder (default: site/)")
    for sub in (build, check):
        sub.add_argument(
            "--jobs",
            type=int,
            default=default_jobs(),
            metavar="N",
            help="processes for converting and rendering, at most the cores available "
            f"(default: all, {default_jobs()})",
        )
    build.add_argument(
        "--no-cache", action="store_true", help="ignore and do not update the cache in .cache/"
    )
    serve = commands.add_parser(
        "serve", help="preview: build, serve from memory, rebuild and reload on every save"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    serve.add_argument("--open", action="store_true", help="open the site in a browser")
    serve.add_argument("--drafts", action="store_true", help="include draft pages")
    return parser


def print_report(report: Report, stream: object = None) -> None:
    """Print every diagnostic as `path:line:col: severity: message; hint`, then a count."""
    out = stream or sys.stderr
    for diagnostic in report.sorted():
        print(diagnostic.format(), file=out)
    errors, warnings = len(report.errors), len(report.warnings)
    if errors or warnings:
        print(f"{errors} error(s), {warnings} warning(s)", file=out)


def main(argv: list[str] | None = None, root: Path | None = None) -> int:
    """Entry point for build.py and the `sitegen` console script."""
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # no command is 'build', and takes its options' defaults
        args = parser.parse_args([*argv, "build"])
    root = (root or Path.cwd()).resolve()
    command = args.command
    if command == "serve":
        from .serve import serve

        options = Options(root=root, out=root / "site", include_drafts=args.drafts, write=False)
        return serve(options, args.host, args.port, args.open)
    out = getattr(args, "out", None) or root / "site"
    options = Options(
        root=root,
        out=out if out.is_absolute() else (Path.cwd() / out),
        include_drafts=getattr(args, "drafts", False),
        strict=getattr(args, "strict", False),
        write=command == "build",
        jobs=max(1, min(args.jobs, default_jobs())),
        cache=command == "build" and not args.no_cache,
        progress=_progress_line if sys.stderr.isatty() else None,
    )
    started = time.perf_counter()
    try:
        result = build(options)
    except WorkerError as exc:  # killed (out of memory?), or an engine bug
        print(
            f"\nerror: {exc.summary()}; {_shown(options, root)} was left as it was", file=sys.stderr
        )
        print("try again with --jobs 1; if it happens again, please report it", file=sys.stderr)
        return EXIT_INTERNAL
    except BuildFailed as exc:  # the system failed a write: said where, as an error
        _clear_progress(options)
        print_report(exc.report)
        print(f"build failed; {_shown(options, root)} was left as it was", file=sys.stderr)
        return EXIT_INTERNAL
    except OSError as exc:  # anything else the system failed: plainly, never a traceback
        _clear_progress(options)
        where = f"{printable(str(exc.filename))}: " if exc.filename is not None else ""
        print(f"{where}error: {printable(exc.strerror or str(exc))}", file=sys.stderr)
        print(f"{command} failed; {_shown(options, root)} was left as it was", file=sys.stderr)
        return EXIT_INTERNAL
    _clear_progress(options)
    print_report(result.report)
    if not result.ok:
        print(
            f"build failed; {_shown(options, root)} was left as it was"
            if command == "build"
            else "check failed",
            file=sys.stderr,
        )
        return EXIT_CONTENT
    seconds = time.perf_counter() - started
    print(summary(command, result, options.out, seconds))
    return EXIT_OK


def _clear_progress(options: Options) -> None:
    """Clear the progress line, if there is one, before what is printed after it."""
    if options.progress is not None:
        print("\r\033[K", end="", file=sys.stderr, flush=True)


def _shown(options: Options, root: Path) -> str:
    """The output folder as messages name it: site/, or the --out path given."""
    return "site/" if options.out == root / "site" else printable(str(options.out))


def build(options: Options) -> Result:
    """One build, as a new process makes it."""
    return run(options)


def command_line(root: Path | None = None) -> NoReturn:
    """Run `main` as a whole process (build.py, `python -m sitegen`, the `sitegen`
    script) and exit with its status.

    Ctrl-C ends the build with exit status 130, as shells give it; the output folder
    then holds the last build that finished: the old one, or this one if it was
    interrupted while saving its cache (the build's own cleanup has run by then).
    Once the work is done, Ctrl-C no longer interrupts: the process only exits, with the
    work's status (else a Ctrl-C during the interpreter's teardown printed Python's own
    "Exception ignored" lines). Another exception (a bug, or argparse's exit) leaves the
    usual way.
    """
    try:
        code = main(root=root)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if code == EXIT_INTERRUPTED:
        print("\ninterrupted; the output folder holds the last finished build", file=sys.stderr)
    sys.exit(code)


def summary(command: str, result: Result, out: Path, seconds: float) -> str:
    """The closing line: what was done, what was reused, how long it took."""
    shown = printable(str(out))  # a path given on the command line may hold anything
    if result.unchanged:
        return f"nothing changed since the last build: {shown} is up to date ({seconds:.2f} s)"
    rendered = len(result.rerendered)
    reused = result.pages - rendered
    detail = (
        f"{rendered} rendered, {reused} reused from the cache, "
        f"{result.converted} Markdown file(s) converted"
    )
    if command == "build":
        return f"built {result.pages} pages into {shown} in {seconds:.2f} s: {detail}"
    return f"checked {result.pages} pages in {seconds:.2f} s, no errors: {detail}"


def _progress_line(stage: str, done: int, total: int) -> None:
    """On a terminal: one line, rewritten in place, with pages done of total."""
    print(f"\r\033[K{stage}: {done}/{total}", end="", file=sys.stderr, flush=True)
