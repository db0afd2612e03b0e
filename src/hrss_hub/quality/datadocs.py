"""Great Expectations Data Docs that work offline (government intranets).

GX's page templates link Bootstrap, jQuery, bootstrap-table, Font Awesome, Vega and a
logo from public CDNs; with the network off the index is two buttons and an empty list.
:func:`localize_site` copies the hub's vendored copies of those files (unmodified builds,
licences kept: ``quality/vendor/README.md``) into the site's ``static/vendor/`` and
rewrites every page's links to them, relative to the page. :func:`external_resources`
lists what a page would still fetch from the network (tests assert it is empty).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

VENDOR_DIR = Path(__file__).with_name("vendor")
#: the site folder the vendored files are copied to
SITE_VENDOR = "static/vendor"

#: CDN URL in GX 1.x templates -> the vendored file (relative to ``VENDOR_DIR``)
CDN_ASSETS: dict[str, str] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/jquery.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css":
        "bootstrap-4.3.1/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js":
        "bootstrap-4.3.1/js/bootstrap.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css":
        "bootstrap-table-1.19.1/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js":
        "bootstrap-table-1.19.1/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js":
        "bootstrap-table-1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css":
        "bootstrap-table-1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css":
        "bootstrap-table-1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js":
        "popper.js-1.12.9/popper.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        "fontawesome-free-6.6.0/css/all.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css":
        "bootstrap-datepicker-1.9.0/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js":
        "bootstrap-datepicker-1.9.0/js/bootstrap-datepicker.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
    "bootstrap-prefers-dark.css":
        "bootstrap-dark-1.1.0/css/bootstrap-prefers-dark.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega-5.33.1/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite-5.23.0/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed-6.29.0/vega-embed.min.js",
}

# GX's logos are fetched from its web-assets bucket, some with the data context id in the
# query string (a tracking pixel); the site carries its logo under static/images/
_GX_LOGO = re.compile(
    r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/"
    r"([\w.-]+\.(?:png|svg))(?:\?[^\"']*)?")
_SITE_LOGO = "logo-long.png"
# a URL in an attribute (src="…") or in CSS (url('…')): groups prefix, quote, URL, closing
_URL = re.compile(r"""(\b(?:src|href)\s*=\s*|\burl\(\s*)(["']?)(https?://[^"')\s]+)(\2)""")
_STATIC = re.compile(r"""(\b(?:src|href)\s*=\s*["'])(?:\./|(?:\.\./)+)?static/""")
# what a browser fetches on load: scripts, stylesheets/icons, images, frames, CSS imports
_RESOURCE = re.compile(
    r"""<(?:script|img|iframe|source|embed)\b[^>]*\bsrc\s*=\s*["']?((?:https?:)?//[^"'\s>]+)"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?((?:https?:)?//[^"'\s>]+)"""
    r"""|@import\s+(?:url\()?["']?((?:https?:)?//[^"')\s]+)"""
    r"""|url\(\s*["']?((?:https?:)?//[^"')\s]+)""", re.IGNORECASE)


def external_resources(page: str) -> list[str]:
    """URLs a page would load from the network when opened (links to follow excluded)."""
    return [next(g for g in m.groups() if g) for m in _RESOURCE.finditer(page)]


def _local(url: str, site_prefix: str, images: set[str]) -> str | None:
    """The vendored (or site-local) replacement of a CDN URL, relative to a page."""
    local = CDN_ASSETS.get(url)
    if local is not None:
        return f"{site_prefix}{SITE_VENDOR}/{local}"
    logo = _GX_LOGO.fullmatch(url)
    if logo is not None:
        name = logo.group(1) if logo.group(1) in images else _SITE_LOGO
        return f"{site_prefix}static/images/{name}"
    return None


def _rewrite(text: str, site_prefix: str, images: set[str]) -> tuple[str, int]:
    count = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal count
        local = _local(m.group(3), site_prefix, images)
        if local is None:
            return m.group(0)
        count += 1
        return f"{m.group(1)}{m.group(2)}{local}{m.group(4)}"

    def static(m: re.Match[str]) -> str:
        nonlocal count
        fixed = f"{m.group(1)}{site_prefix}static/"
        count += fixed != m.group(0)
        return fixed

    # GX writes some links to the site's own static/ folder one level too shallow on
    # validation pages (the favicon): point every one at the site root
    return _STATIC.sub(static, _URL.sub(repl, text)), count


def localize_site(site_dir: Path) -> int:
    """Make a built Data Docs site self-contained; returns the number of links rewritten.

    Idempotent: a rebuilt site gets the vendored files again, rewritten pages are left as
    they are.
    """
    target = site_dir / SITE_VENDOR
    shutil.copytree(VENDOR_DIR, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    images = {p.name for p in (site_dir / "static" / "images").glob("*")}
    rewritten = 0
    for page in [*site_dir.rglob("*.html"), *(site_dir / "static" / "styles").glob("*.css")]:
        text = page.read_text(encoding="utf-8")
        rel = Path(os.path.relpath(site_dir, page.parent)).as_posix()
        site_prefix = "" if rel == "." else f"{rel}/"
        new, n = _rewrite(text, site_prefix, images)
        if n:
            page.write_text(new, encoding="utf-8")
            rewritten += n
    return rewritten
