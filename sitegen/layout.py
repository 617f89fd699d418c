"""The folders of a project: its Markdown and YAML, its templates, its static files;
and the names in them that are never the project's.

Apart from load.py so that the walk (inputs.py) and the watcher need not import the YAML
parser.
"""

CONTENT, TEMPLATES, STATIC = "content", "templates", "static"


def not_content(name: str) -> bool:
    """Hidden files, and editors' swap, backup, lock and temporary files (vim's .x.swp
    and its 4913 write test, emacs's #x# and .#x, x~, x.tmp): never read, never
    published, and no reason to rebuild. One rule for the loader and the watcher."""
    return (
        name.startswith((".", "#"))
        or name.endswith(("~", ".swp", ".swx", ".tmp"))
        or name == "4913"
    )
