"""The internal link checker: every content link must reach a page and an anchor.

Works on the model, before anything is rendered, so a broken link stops the build
with the line of the link and the closest existing target as the hint.
"""

from __future__ import annotations

from . import urls
from .assemble import closest
from .errors import Report
from .model import Site


def check_links(site: Site, content_files: frozenset[str], report: Report) -> None:
    """Report links to missing files, unpublished pages and missing anchors."""
    for page in site.pages:
        if page.document is None:
            continue
        for link in page.document.links:
            if link.target not in content_files:
                report.error(
                    link.location,
                    f"link to missing file '{link.target}'",
                    closest(link.target, content_files)
                    or "check the path; it is relative to the file that contains the link",
                )
                continue
            target_url = urls.url_for_content(link.target)
            target = site.page_by_url.get(target_url) if target_url is not None else None
            if target is None:
                report.error(
                    link.location,
                    f"link to '{link.target}', which is not published (a draft?)",
                    "publish that page or remove the link",
                )
                continue
            if link.anchor and link.anchor not in target.anchors:
                report.error(
                    link.location,
                    f"link to missing anchor '#{link.anchor}' in {link.target}",
                    closest(link.anchor, target.anchors)
                    or f"anchors there: {', '.join(sorted(target.anchors)[:8])}",
                )
