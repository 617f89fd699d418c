"""The build, stage by stage: load, validate, model, check, render, write.

The only module that knows the order of the stages. Each stage reports into one Report;
the build stops after a stage that found errors, so all of a stage's errors are shown
together and nothing is written unless everything succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import urls
from .assemble import assemble, load_settings
from .errors import Location, Report
from .links import check_links
from .load import CONTENT, STATIC, TEMPLATES, Project, load_project
from .markdown import Document, MarkdownRenderer
from .model import Site
from .quotes import check_quotations, site_quotations
from .render import make_environment, render_pages
from .write import refuse_output, write_site


@dataclass(frozen=True)
class Options:
    root: Path
    out: Path
    include_drafts: bool = False
    strict: bool = False
    write: bool = True


@dataclass
class Result:
    """What a build did: its diagnostics, and the model and files when it got that far."""

    report: Report = field(default_factory=Report)
    site: Site | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    copies: dict[str, Path] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.report.errors


def convert_documents(project: Project, renderer: MarkdownRenderer) -> dict[str, Document]:
    """Markdown to HTML for every page file; pure per file, so it can be cached."""
    documents = {}
    for file in project.pages:
        url = urls.url_for_content(file.path.removeprefix(f"{CONTENT}/")) or ""
        documents[file.path] = renderer.convert(file.body, file.path, file.body_line, url)
    return documents


def build_model(project: Project, options: Options, report: Report) -> Site | None:
    """Validate everything and assemble the site model; None if there were errors."""
    settings = load_settings(project.settings, report)
    documents = convert_documents(project, MarkdownRenderer())
    site = assemble(project, settings, documents, report, include_drafts=options.include_drafts)
    if site is None:
        return None
    content_files = (
        frozenset(p.path.removeprefix(f"{CONTENT}/") for p in project.pages)
        | frozenset(d.path.removeprefix(f"{CONTENT}/") for d in project.countries)
        | ({"sources.yaml"} if project.sources else set())
    )
    check_links(site, content_files, report)
    bodies = {p.path: (p.body, p.body_line) for p in project.pages}
    check_quotations(site_quotations(site, bodies), site.source_by_id, report)
    return None if report.errors else site


def static_copies(project: Project, files: dict[str, bytes], report: Report) -> dict[str, Path]:
    """Static files keep their path under static/; they may not shadow a page."""
    copies = {}
    for rel in project.static_files:
        if rel in files:
            report.error(
                Location(f"{STATIC}/{rel}"),
                f"static file has the same path as the page {rel}",
                "rename or move the static file",
            )
            continue
        copies[rel] = project.root / STATIC / rel
    return copies


def run(options: Options) -> Result:
    """Run the whole build; write `site/` only if every stage succeeded."""
    result = Result()
    report = result.report
    if options.write and (reason := refuse_output(options.out, options.root)):
        report.error(Location(str(options.out)), reason, "choose another --out folder")
        return result
    project = load_project(options.root, report)
    if report.errors:
        return result
    site = build_model(project, options, report)
    if site is None:
        return result
    result.site = site
    env = make_environment(options.root / TEMPLATES)
    result.files = render_pages(site, env, options.root / TEMPLATES, report)
    result.copies = static_copies(project, result.files, report)
    if options.strict and report.warnings:
        for warning in report.warnings:
            report.diagnostics.remove(warning)
            report.error(warning.location, warning.message, warning.hint)
    if report.errors or not options.write:
        return result
    write_site(options.out, result.files, result.copies)
    return result
