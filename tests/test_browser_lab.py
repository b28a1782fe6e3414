"""Lesson 03 in a real JupyterLab, in a real (headless) browser.

Starts JupyterLab from this interpreter's environment on 127.0.0.1 with a random token,
opens a copy of ``notebooks/03_upsampling.ipynb`` in Debian's Chromium (driven by
Playwright's Python package through ``executable_path``: no browser download), runs all
cells in quick mode, changes the explorer's factor and method and the checkerboard
explorer's kernel slider and weights, and asserts that the rendered images changed and
that no cell or widget shows an error.

Outside CI the test skips, with the reason, when Chromium or Playwright is missing. In CI
(``FCN_LESSONS_CI=1``, set by ``.ci/run``, which also installs Chromium) it fails instead.
On failure, a screenshot, the page's HTML and the server log are saved in
``tests/artifacts/``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "notebooks/03_upsampling.ipynb"
NOTEBOOK_SOURCE = None  # a path to serve as NOTEBOOK instead of the course's own file
ARTIFACTS = ROOT / "tests" / "artifacts"
CI_ENV_VAR = "FCN_LESSONS_CI"
CHROMIUM_ENV_VAR = "FCN_LESSONS_CHROMIUM"  # path to a Chromium binary, if not on PATH
SERVER_START_S = 90
RUN_ALL_S = 240  # quick-mode lesson 03 runs in about 15 s; CI machines are slower and shared
WIDGET_UPDATE_S = 30
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _in_ci() -> bool:
    return os.environ.get(CI_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def _unavailable(reason: str):
    if _in_ci():
        pytest.fail(f"{reason} ({CI_ENV_VAR} is set: the browser test must run in CI; .ci/run installs Chromium).")
    pytest.skip(f"{reason}: the JupyterLab browser test needs Debian's chromium (apt-get install chromium) and "
                f"the playwright Python package (requirements); set {CHROMIUM_ENV_VAR} to use another Chromium.")


def _chromium() -> str:
    path = os.environ.get(CHROMIUM_ENV_VAR) or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not os.access(path, os.X_OK):
        _unavailable("Chromium not found")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(settings: Path) -> None:
    """User settings for the throwaway lab: no autosave, no news prompt."""
    for plugin, values in {
        "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
    }.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")


@pytest.fixture
def chromium():
    """Chromium's path, once Chromium and Playwright are known to be there (before any server starts)."""
    path = _chromium()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    return path


@pytest.fixture
def lab(chromium, tmp_path):
    """A JupyterLab server on a copy of the lesson; yields (base URL, token, log path).

    It serves ``ROOT / NOTEBOOK`` as ``NOTEBOOK``, or ``NOTEBOOK_SOURCE`` when a test sets it
    (a notebook file the test wrote).
    """
    course = tmp_path / "course"
    (course / NOTEBOOK).parent.mkdir(parents=True)
    shutil.copy(NOTEBOOK_SOURCE or ROOT / NOTEBOOK, course / NOTEBOOK)
    home = tmp_path / "home"
    _write_settings(home / "settings")
    env = dict(os.environ, FCN_LESSONS_QUICK="1", JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), IPYTHONDIR=str(home / "ipython"),
               MPLCONFIGDIR=str(home / "matplotlib"))
    port, token = _free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={course}", "--LabApp.expose_app_in_browser=True",
               "--KernelManager.shutdown_wait_time=1"]  # stop the kernel quickly at teardown
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log_path = tmp_path / "jupyter-lab.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + SERVER_START_S
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start within {SERVER_START_S} s:\n"
                                + log_path.read_text(errors="replace")[-3000:])
                time.sleep(0.5)
            yield base, token, log_path
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


# JavaScript run in the page (JupyterLab exposes itself as window.jupyterapp).
NOTEBOOK_STATE = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    if (!panel || !panel.content || !panel.content.model || !panel.sessionContext) return null;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    const cells = Array.from(panel.content.model.cells).filter(cell => cell.type === "code");
    const errors = [];
    cells.forEach((cell, index) => {
        for (const output of cell.outputs.toJSON()) {
            if (output.output_type === "error") errors.push(`cell ${index + 1}: ${output.ename}: ${output.evalue}`);
        }
    });
    return {kernel: kernel ? kernel.status : null, code_cells: cells.length,
            unrun: cells.filter(cell => cell.executionCount === null).length, errors: errors};
}"""


def _wait(page, predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        page.wait_for_timeout(250)


def _image_in_box(page, control_label: str):
    """The Image widget of the explorer that has a control labelled ``control_label``."""
    box = page.locator(".widget-vbox").filter(has=page.locator(f'label:text-is("{control_label}")')).last
    return box.locator("img.widget-image").first


def _change_and_wait(page, image, change, what: str):
    before_src, before_pixels = image.get_attribute("src"), image.screenshot()
    change()
    _wait(page, lambda: image.get_attribute("src") != before_src, WIDGET_UPDATE_S, f"a new image after {what}")
    page.wait_for_timeout(300)  # let the new blob finish decoding before comparing pixels
    assert image.screenshot() != before_pixels, f"the rendered image did not change after {what}"


def assert_page_shows_no_error(page) -> None:
    """No error text, no failed widget, the kernel idle and no cell with an error output."""
    page_text = page.locator("body").inner_text()
    for problem in ("Error displaying widget", "model not found", "Traceback"):
        assert problem not in page_text, f"the page shows {problem!r}"
    assert page.locator(".jupyter-widgets-error-widget").count() == 0, "a widget failed to render"
    state = page.evaluate(NOTEBOOK_STATE)
    assert state["kernel"] == "idle" and state["errors"] == [], state


def save_failure_artifacts(page, test_name: str, console_errors: list[str], log_path) -> None:
    """Screenshot, HTML, console errors and server log of a failed test, in tests/artifacts/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = ARTIFACTS / test_name
    page.screenshot(path=f"{stem}.png", full_page=True)
    Path(f"{stem}.html").write_text(page.content(), encoding="utf-8")
    Path(f"{stem}.console.txt").write_text("\n".join(console_errors), encoding="utf-8")
    shutil.copy(log_path, f"{stem}.server.log")


def test_lesson_03_runs_and_its_explorers_respond_in_jupyterlab(chromium, lab, request):
    from playwright.sync_api import sync_playwright

    base, token, log_path = lab
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        console_errors = []
        page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
        try:
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", timeout=SERVER_START_S * 1000)
            _wait(page, lambda: (page.evaluate(NOTEBOOK_STATE) or {}).get("kernel") == "idle", SERVER_START_S,
                  "the notebook to open and its kernel to start")
            page.evaluate("void window.jupyterapp.commands.execute('notebook:run-all-cells')")
            state = _wait(page, lambda: (lambda s: s if s and s["unrun"] == 0 and s["kernel"] == "idle" else None)(
                page.evaluate(NOTEBOOK_STATE)), RUN_ALL_S, "all cells to run")
            assert state["errors"] == [], state["errors"]

            explorer = _image_in_box(page, "factor")
            explorer.scroll_into_view_if_needed()
            _wait(page, lambda: (explorer.get_attribute("src") or "").startswith("blob:"), WIDGET_UPDATE_S,
                  "the upsampling explorer's image")
            select = page.locator(".widget-dropdown").filter(has=page.locator('label:text-is("factor")')).last
            _change_and_wait(page, explorer, lambda: select.locator("select").select_option(label="×8"),
                             "choosing factor ×8")
            method = page.locator(".widget-dropdown").filter(has=page.locator('label:text-is("method")')).last
            _change_and_wait(page, explorer, lambda: method.locator("select").select_option(
                label="transposed conv, uniform kernel, k=3f/2 (uneven overlap)"), "choosing the uneven transposed conv")

            board = _image_in_box(page, "kernel size")
            board.scroll_into_view_if_needed()
            slider = page.locator(".widget-slider").filter(has=page.locator('label:text-is("kernel size")')).last
            readout = slider.locator(".widget-readout")
            before_value = readout.inner_text()

            def move_slider():
                slider.locator(".noUi-handle").focus()
                page.keyboard.press("ArrowRight")

            _change_and_wait(page, board, move_slider, "moving the kernel-size slider")
            assert readout.inner_text() != before_value
            weights = page.locator(".widget-dropdown").filter(has=page.locator('label:text-is("weights")')).last
            _change_and_wait(page, board, lambda: weights.locator("select").select_option(
                label="bilinear of the stride"), "choosing the bilinear kernel of the stride")

            assert_page_shows_no_error(page)
        except BaseException:
            save_failure_artifacts(page, request.node.name, console_errors, log_path)
            raise
        finally:
            browser.close()
