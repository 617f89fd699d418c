"""Browser tests: the real site in headless Chromium, driven by Playwright.

A package (this file) so that its conftest is imported as `browser.conftest` and does not
replace tests/conftest.py, which other test modules import as `conftest`.
"""
