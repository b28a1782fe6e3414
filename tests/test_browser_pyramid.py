"""Lesson 05's skip explorer in a real JupyterLab, in a real (headless) browser.

Reuses the server and browser helpers of ``tests/test_browser_lab.py`` (lesson 03's test):
JupyterLab from this interpreter's environment on 127.0.0.1 with a random token, Debian's
Chromium (Playwright's Python package through ``executable_path``: no browser download).
The notebook it opens is written by the test: ``widgets.skip_explorer``, the lesson's
explorer, on three untrained FCNs with random skip scores (``bench.pyramid.random_skip_fcns``)
and four course scenes. Running the whole lesson here would add two minutes of training that
nbval already runs (``make test-notebooks``) and test the same widget code. The explorer's
pool3 and pool4 check boxes are switched off and its variant changed; each change must give
a new rendered image; no cell or widget may show an error.

Outside CI the test skips, with the reason, when Chromium or Playwright is missing; in CI
(``FCN_LESSONS_CI=1``) it fails instead, as lesson 03's does. On failure, a screenshot,
the page's HTML, the console errors and the server log are saved in ``tests/artifacts/``.
"""

from __future__ import annotations

import nbformat
import pytest

import test_browser_lab as lab_test
from test_browser_lab import chromium, lab  # noqa: F401  (fixtures: Chromium's path, the JupyterLab server)

NOTEBOOK = "skip_explorer.ipynb"
RUN_ALL_S = 300  # three untrained FCNs, four scenes: the test itself ran in about 12 s on 2 cores; CI may be slower
SCENES, SCENE_SIZE = 4, 64
CELLS = [
    "import fcn_lessons\nfcn_lessons.setup()",
    "from fcn_lessons import data, widgets\nfrom fcn_lessons.bench.pyramid import random_skip_fcns\n"
    f"images, masks = data.make_shapes({SCENES}, {SCENE_SIZE}, seed=0)\n"
    "explorer = widgets.skip_explorer(random_skip_fcns(), images, masks)\nexplorer",
]


@pytest.fixture(autouse=True)
def _skip_explorer_notebook(monkeypatch, tmp_path):
    """Point lesson 03's ``lab`` fixture at a notebook holding the explorer (autouse: before the server starts)."""
    source = tmp_path / NOTEBOOK
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell) for cell in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, source)
    monkeypatch.setattr(lab_test, "NOTEBOOK", NOTEBOOK)
    monkeypatch.setattr(lab_test, "NOTEBOOK_SOURCE", source)


def _checkbox(page, label: str):
    box = page.locator(".widget-checkbox").filter(has=page.locator(f'text="{label}"')).last
    return box.locator("input[type=checkbox]")


def test_skip_explorer_switches_respond_in_jupyterlab(chromium, lab, request):  # noqa: F811
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
