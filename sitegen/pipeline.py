"""The build, stage by stage: load, validate, model, check, plan, render, write.

The only module that knows the order of the stages, and the only way to build: the
command line makes one build with a fresh Builder, the preview keeps one alive. Each
stage reports into one Report; the build stops after a stage that found errors, so all
of a stage's errors are shown together and nothing is written unless everything
succeeded; a failure of the system while writing (a full disk, a file gone since the
walk) stops the build with BuildFailed, the old output folder as it was. The walk comes
first: when every input and every output file is as the last build left them, there is
nothing to plan and the build returns there. The plan
compares what each earlier rendering read with the model now, so only stale outputs are
rendered; a caller's priority pages (the preview's pages in view) are planned and
rendered first. Rendering and writing overlap: pages go into the new output folder as
they are rendered, and that folder replaces the old one only at the end.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import Store
from .engine import BUILD_KEY
from .errors import BuildFailed, Location, Report
from .filekeys import FileKey
from .inputs import FileCache, Inputs, find_inputs, settled
from .options import Options, Priority, Result
from .state import BuildState, load_state, state_row
from .write import OutputError, OutputFolder, check_output, could_not

if TYPE_CHECKING:
    from .stages import Search, Stages

__all__ = ["Builder", "Options", "Result", "run"]


class Builder:
    """Builds one project again and again, reusing what did not change.

    The command line makes one build with a fresh Builder, which reads what the last
    process left in .cache/; the preview server keeps one alive, so a rebuild reads and
    converts only changed files and re-renders only the pages whose recorded inputs
    changed.
    """

    def __init__(self, options: Options) -> None:
        self.options = options
        self.files = FileCache()  # parsed files, by path
        self.state: BuildState | None = None  # what the last build that wrote left
        self._stages: Stages | None = None

    @property
    def work(self) -> Stages:
        """The stages after the walk, made by the first build that has work to do."""
        if self._stages is None:
            from .stages import Stages  # the engine's heavy imports, once needed

            self._stages = Stages(self.options, self.files)
        return self._stages

    def forget(self, paths: list[str]) -> None:
        """Drop cached parses of files a watcher reported changed (project-relative)."""
        for path in paths:
            self.files.forget(path)

    def build(self, found: Report | None = None, priority: Priority | None = None) -> Result:
        """One build, reusing what did not change; the output folder is swapped in only
        if every stage succeeded. BuildFailed if the system failed it while it wrote
        (its report says where), not the content.

        `found`: what the caller reported of this build so far.
        `priority`: pages to render first, each handed over as soon as it is rendered.
        """
        result = Result(report=found or Report())
        store = Store(self.options.root, result.report) if self.options.cache else None
        try:
            self._build(result, store, priority)
        finally:
            if store is not None:
                store.close()
        return result

    def _build(self, result: Result, store: Store | None, priority: Priority | None) -> None:
        options, report = self.options, result.report
        if store is not None and self.state is None:
            self.state = load_state(store)
        state = self.state
        written: dict[str, FileKey] = state.manifest if state is not None else {}
        intact = False
        seen: dict[str, FileKey] = {}  # the old folder's files as found, for a second look
        if options.write:
            reason, intact, seen = check_output(options.out, options.root, written)
            if reason:
                report.error(Location(str(options.out)), reason, "choose another --out folder")
                return
        # Load: the walk, then (unless nothing changed) reading and parsing.
        began = time.time_ns()  # the clock file times are set from
        inputs = find_inputs(options.root, report)
        if state is not None and intact and self._unchanged(state, inputs, report):
            result.unchanged = True
            result.report.diagnostics.extend(state.diagnostics)
            result.pages = state.pages
            return
        work = self.work
        if store is not None:
            work.load_cache(store)
        project = work.load(inputs, report)
        if report.errors:
            return
        # Validate, model, check links and quotations.
        site = work.model(project, report)
        result.converted = work.documents.converted
        if site is None:
            return
        result.site, result.pages = site, len(site.pages)
        # Plan, render, and write into a new folder, swapped in at the end.
        search = state.search if state is not None else ("", ())
        folder: OutputFolder | None = None
        try:
            if options.write:
                folder = OutputFolder(options.out, seen)
            search = work.render(project, site, result, folder, priority, written, search)
            if options.strict:
                _warnings_to_errors(report)
            if report.errors:
                return
            if folder is not None:
                for rel, source in sorted(result.copies.items()):
                    folder.copy(rel, source)
                refused = folder.commit()
                if refused is not None:
                    report.error(
                        Location(str(options.out)), refused, "move them out of it, then build again"
                    )
                    return
                written = folder.stats()
                folder = None
            work.succeeded(result)
        except (OutputError, OSError) as exc:
            if not options.write:
                raise
            if isinstance(exc, OutputError):
                failure = exc
            else:  # said of the path it names, as one the writer knows
                failure = (
                    folder.failure(exc)
                    if folder is not None
                    else could_not(options.out, exc, "write")
                )
            report.error(Location(self._shown(failure.path)), failure.message, failure.hint)
            raise BuildFailed(report) from None
        finally:
            if folder is not None:
                folder.discard()
        self._keep(store, work, result, inputs, began, written, search)

    def _shown(self, path: Path) -> str:
        """A path as messages give it: from the project's root if it is inside it."""
        for root in (self.options.root, self.options.root.resolve()):
            if path.is_relative_to(root):
                return path.relative_to(root).as_posix()
        return str(path)

    def _unchanged(self, state: BuildState, inputs: Inputs, report: Report) -> bool:
        """Whether the last build already made what this one would: the same inputs,
        the same engine and options, and nothing found wrong in the walk."""
        return (
            not report.diagnostics
            and state.options == self._options_key()
            and state.inputs == inputs.keys()
        )

    def _options_key(self) -> str:
        return repr((BUILD_KEY, *self.options.output_key()))

    def _keep(
        self,
        store: Store | None,
        work: Stages,
        result: Result,
        inputs: Inputs,
        began: int,
        written: dict[str, FileKey],
        search: Search,
    ) -> None:
        """Keep this build's state for the next build, and write what it made to
        .cache/ (with a store), all in one transaction: its documents, renderings and
        state, and the removal of what no build uses any more."""
        state = BuildState(
            inputs=settled(inputs.keys(), began),
            manifest=written,
            diagnostics=tuple(d for d in result.report.diagnostics if d.severity != "note"),
            pages=result.pages,
            options=self._options_key(),
            search=search,
        )
        self.state = state
        if store is not None:
            store.save([*work.cache_changes(result, state.inputs), state_row(state)])
            work.saved(result)


def _warnings_to_errors(report: Report) -> None:
    """--strict: every warning fails the build."""
    for warning in report.warnings:
        report.diagnostics.remove(warning)
        report.error(warning.location, warning.message, warning.hint)


def run(options: Options) -> Result:
    """One build with a fresh Builder, as the command line makes it."""
    return Builder(options).build()
