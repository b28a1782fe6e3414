"""Lesson 05 in a real JupyterLab, in a real (headless) browser: the skip explorer's switches.

Reuses the server and browser helpers of ``tests/test_browser_lab.py`` (lesson 03's test):
JupyterLab from this interpreter's environment on 127.0.0.1 with a random token, a copy of
``notebooks/05_skip_pyramid.ipynb`` run in quick mode in Debian's Chromium (Playwright's
Python package through ``executable_path``: no browser download). Then the skip explorer's
pool3 and pool4 check boxes are switched off and its variant changed, and each change must
give a new rendered image; no cell or widget may show an error.

Outside CI the test skips, with the reason, when Chromium or Playwright is missing; in CI
(``FCN_LESSONS_CI=1``) it fails instead, as lesson 03's does. On failure, a screenshot,
the page's HTML, the console errors and the server log are saved in ``tests/artifacts/``.
"""

from __future__ import annotations

import pytest

import test_browser_lab as lab_test
from test_browser_lab import chromium, lab  # noqa: F401  (fixtures: Chromium's path, the JupyterLab server)

NOTEBOOK = "notebooks/05_skip_pyramid.ipynb"
RUN_ALL_S = 600  # quick-mode lesson 05 trains a few small nets: about 2 minutes on 2 cores, more on shared CI


@pytest.fixture(autouse=True)
def _lesson_05(monkeypatch):
    """Point lesson 03's ``lab`` fixture at this lesson (autouse: set before the server starts)."""
    monkeypatch.setattr(lab_test, "NOTEBOOK", NOTEBOOK)


def _checkbox(page, label: str):
    box = page.locator(".widget-checkbox").filter(has=page.locator(f'text="{label}"')).last
    return box.locator("input[type=checkbox]")


def test_lesson_05_runs_and_its_skip_switches_respond_in_jupyterlab(chromium, lab, request):  # noqa: F811
    from playwright.sync_api import sync_playwright

    base, token, log_path = lab
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=lab_test.CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        console_errors = []
        page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
        try:
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", timeout=lab_test.SERVER_START_S * 1000)
            lab_test._wait(page, lambda: (page.evaluate(lab_test.NOTEBOOK_STATE) or {}).get("kernel") == "idle",
                           lab_test.SERVER_START_S, "the notebook to open and its kernel to start")
            page.evaluate("void window.jupyterapp.commands.execute('notebook:run-all-cells')")
            state = lab_test._wait(page, lambda: (lambda s: s if s and s["unrun"] == 0 and s["kernel"] == "idle"
                                                  else None)(page.evaluate(lab_test.NOTEBOOK_STATE)),
                                   RUN_ALL_S, "all cells to run")
            assert state["errors"] == [], state["errors"]

            explorer = lab_test._image_in_box(page, "variant")
            explorer.scroll_into_view_if_needed()
            lab_test._wait(page, lambda: (explorer.get_attribute("src") or "").startswith("blob:"),
                           lab_test.WIDGET_UPDATE_S, "the skip explorer's image")
            for label in ("pool3 skip", "pool4 skip"):
                box = _checkbox(page, label)
                assert box.is_checked(), f"{label} should start switched on"
                lab_test._change_and_wait(page, explorer, box.uncheck, f"switching the {label} off")
                assert not box.is_checked()
            variant = page.locator(".widget-dropdown").filter(has=page.locator('label:text-is("variant")')).last
            lab_test._change_and_wait(page, explorer, lambda: variant.locator("select").select_option(label="16s"),
                                      "choosing FCN-16s")
            assert _checkbox(page, "pool3 skip").is_disabled(), "FCN-16s has no pool3 skip to switch"

            lab_test.assert_page_shows_no_error(page)
        except BaseException:
            lab_test.save_failure_artifacts(page, request.node.name, console_errors, log_path)
            raise
        finally:
            browser.close()
