"""Render every page of the model through Jinja into bytes.

Autoescape is on and undefined names are errors (StrictUndefined): a template mistake
is reported with the template's file and line and the page being rendered, never
rendered as an empty string. Each template sees only this page and the immutable site.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

import jinja2
from markupsafe import Markup

from . import urls
from .dates import PartialDate
from .errors import Location, Report
from .model import Page, Site
from .schema import (
    CONFIDENCE_MEANINGS,
    CONFIDENCES,
    SOURCE_KINDS,
    STATUS_MEANINGS,
    STATUSES,
    VENDORS,
)


def make_environment(templates: Path) -> jinja2.Environment:
    """A Jinja environment that escapes everything and fails on undefined names."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        STATUSES=STATUSES,
        STATUS_MEANINGS=STATUS_MEANINGS,
        CONFIDENCES=CONFIDENCES,
        CONFIDENCE_MEANINGS=CONFIDENCE_MEANINGS,
        VENDORS=VENDORS,
        SOURCE_KINDS=SOURCE_KINDS,
    )
    env.filters["day"] = lambda value: PartialDate(value.year, value.month, value.day).display
    return env


def page_context(site: Site, page: Page) -> dict[str, object]:
    """What a template may use: the page, the site, and link helpers bound to this page."""
    base = site.settings.base_url

    def url(target: str) -> str:
        """A relative link from this page; the 404 page, served anywhere, links absolutely."""
        if page.url == urls.NOT_FOUND:
            return urls.absolute(base, urls.output_path(target) if "." in target else target)
        return urls.relative(page.url, target)

    return {
        "site": site,
        "settings": site.settings,
        "page": page,
        "url": url,
        "canonical": urls.absolute(base, page.url),
        "body": Markup(page.document.html) if page.document else Markup(""),
    }


def _template_location(exc: BaseException, templates: Path) -> Location | None:
    """The innermost template frame of a rendering error (Jinja rewrites the traceback)."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if path.suffix in (".html", ".xml", ".txt") and path.is_relative_to(templates):
            found = Location(
                f"templates/{path.relative_to(templates).as_posix()}", frame.lineno or 1
            )
    return found


def render_pages(
    site: Site,
    env: jinja2.Environment,
    templates: Path,
    report: Report,
    *,
    on_page: Callable[[Page], None] | None = None,
) -> dict[str, bytes]:
    """Render each page; report every template error with its file, line and page."""
    outputs: dict[str, bytes] = {}
    for page in site.pages:
        try:
            template = env.get_template(page.template)
            html = template.render(page_context(site, page))
        except jinja2.TemplateSyntaxError as exc:
            where = Location(f"templates/{exc.name or page.template}", exc.lineno or 1)
            report.error(
                where, f"template syntax error: {exc.message}", "fix the template's syntax"
            )
            continue
        except jinja2.TemplateNotFound as exc:
            report.error(
                Location(f"templates/{page.template}"),
                f"template '{exc.name}' not found (rendering {page.output})",
                "create it in templates/ or fix the name",
            )
            continue
        except Exception as exc:
            where = _template_location(exc, templates)
            if where is None:
                raise
            kind = "undefined variable" if isinstance(exc, jinja2.UndefinedError) else "error"
            report.error(
                where,
                f"{kind}: {exc} (while rendering {page.output})",
                "define it in the template, or fix its name",
            )
            continue
        outputs[page.output] = html.encode("utf-8")
        if on_page is not None:
            on_page(page)
    return outputs
