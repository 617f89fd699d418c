"""The folders of a project: its Markdown and YAML, its templates, its static files.

Apart from load.py so that shortcut.py can scan them without importing the YAML parser.
"""

CONTENT, TEMPLATES, STATIC = "content", "templates", "static"
