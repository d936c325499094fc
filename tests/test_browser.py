"""Real-browser acceptance test: the quickstart notebook in JupyterLab draws its nglview widget.

The test starts JupyterLab (the virtualenv's own Python) on a free port with a random
token and a temporary root folder holding a copy of ``notebooks/00_quickstart.ipynb``,
opens the notebook in headless Debian chromium through Playwright, runs all cells and
waits for the NGL canvas of the last cell to draw. It then checks that

* no widget error showed up, neither in the browser console nor in the page,
* no cell raised a Python exception,
* the canvas is not blank (a minimum fraction of pixels differs from the background).

Screenshots go to ``tests/_output/browser/`` (git-ignored): ``adk_in_map.png`` (the canvas)
and ``jupyterlab.png`` (the whole page).

It skips only when chromium or the playwright package is missing. Playwright's own
browsers are not needed: the system chromium is launched through ``executable_path``.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "cryonb" / "notebooks" / "00_quickstart.ipynb"
OUTPUT_DIR = Path(__file__).resolve().parent / "_output" / "browser"

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # WebGL without a GPU: software rendering through ANGLE + SwiftShader.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]

# Console error text (lower case) that means a widget failed to load or render.
# ("widget" also catches errors thrown from the jupyter-widgets manager's scripts.)
WIDGET_ERROR_MARKERS = (
    "error displaying widget",
    "failed to load model class",
    "could not create view",
    "could not create a view",
    "no version of module",
    "model class",
    "widget",
)
# Texts and the element the widget manager puts in an output when a widget fails.
PAGE_ERROR_TEXTS = ("Error displaying widget", "Failed to load")
ERROR_WIDGET = ".jupyter-widgets-error-widget"
# JupyterLab renders exceptions (error outputs) as stderr text, like anything printed there.
STDERR_OUTPUT = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"

MIN_DRAWN_FRACTION = 0.02  # share of canvas pixels that must differ from the background
COLOR_TOLERANCE = 24  # max per-channel difference still counted as background

SERVER_START_TIMEOUT_S = 120
NOTEBOOK_LOAD_TIMEOUT_MS = 120_000
RUN_ALL_TIMEOUT_MS = 300_000
CANVAS_TIMEOUT_MS = 120_000
DRAW_TIMEOUT_S = 60


def _find_chromium() -> str | None:
    """The system chromium executable, or None."""
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


CHROMIUM = _find_chromium()
try:
    from playwright.sync_api import Page, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable (/usr/bin/chromium)"),
    pytest.mark.skipif(sync_playwright is None, reason="the playwright package is not installed"),
]


# --------------------------------------------------------------------------- JupyterLab server


@dataclass
class LabServer:
    """A running JupyterLab: where it listens and its token."""

    port: int
    token: str
    root: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (starting with ``/``), with the token attached."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_server(server: LabServer, proc: subprocess.Popen, timeout: float) -> None:
    """Poll ``/api/status`` until the server answers 200; fail if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(server.url("/api/status"), timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer on port {server.port} within {timeout:.0f} s")


def stop_process_group(proc: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM the process group of ``proc`` (server and kernels), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


LAB_SETTINGS = {
    # offline, and no news/update toast over the notebook
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                    "checkForUpdates": False},
    # every cell stays in the DOM, so prompts and outputs can be counted
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def write_lab_settings(settings_dir: Path) -> None:
    """Write :data:`LAB_SETTINGS` as JupyterLab user settings under ``settings_dir``."""
    for plugin, values in LAB_SETTINGS.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@contextlib.contextmanager
def jupyter_lab(root: Path, log_path: Path, extra_args: Sequence[str] = ()) -> Iterator[LabServer]:
    """Run JupyterLab on ``root`` (own process group, isolated settings) for a ``with`` block.

    ``extra_args`` are appended to the command line. The server's output goes to
    ``log_path``; the whole process group (kernels included) is stopped on exit.
    """
    server = LabServer(port=free_port(), token=secrets.token_hex(16), root=root)
    lab_state = root.parent / "lab_state"
    write_lab_settings(lab_state / "settings")
    cmd = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={server.port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={server.token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        f"--LabApp.workspaces_dir={lab_state / 'workspaces'}",
        f"--LabApp.user_settings_dir={lab_state / 'settings'}",
        *extra_args,
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers often run as root
        cmd.append("--ServerApp.allow_root=True")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(lab_state / "runtime"))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            try:
                wait_for_server(server, proc, SERVER_START_TIMEOUT_S)
            except (RuntimeError, TimeoutError) as exc:
                log_tail = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{exc}; server log ends with:\n{log_tail}") from exc
            yield server
        finally:
            stop_process_group(proc)


# --------------------------------------------------------------------------- browser helpers


def wait_for_kernel_idle(page: Page, timeout_ms: int) -> None:
    """Wait until the notebook's kernel has started and is idle.

    The execution indicator already says "idle" while the toolbar still reads
    "No Kernel", so require a kernel name as well.
    """
    page.wait_for_function(
        """() => {
            const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
            const name = document.querySelector('.jp-Toolbar-kernelName');
            const kernel = name ? name.textContent.trim() : '';
            return status !== null && status.dataset.status === 'idle'
                   && kernel !== '' && !/no kernel/i.test(kernel);
        }""",
        timeout=timeout_ms, polling=250,
    )


def run_all_cells(page: Page, attempts: int = 3, started_timeout_ms: int = 30_000) -> None:
    """Run -> Run All Cells from the menu bar, retried until a cell prompt shows it started.

    Right after the page loads, the menu item can still be disabled (no current notebook
    yet); a click on it then does nothing, so check that execution began.
    """
    started = """() => [...document.querySelectorAll(
                         '.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
                     .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""
    for attempt in range(1, attempts + 1):
        page.locator(".jp-Notebook .jp-Cell").first.click()  # make the notebook current
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
        try:
            page.wait_for_function(started, timeout=started_timeout_ms, polling=250)
            return
        except PlaywrightTimeoutError:
            if attempt == attempts:
                raise
            page.keyboard.press("Escape")  # close a menu left open


def wait_for_all_cells_run(page: Page, n_code_cells: int, timeout_ms: int) -> None:
    """Wait until every code cell shows an execution count, or until a cell raised.

    (After an exception "Run All" stops, so the remaining prompts would never fill.)
    """
    page.wait_for_function(
        """([n, stderrSelector]) => {
            const stderr = [...document.querySelectorAll(stderrSelector)];
            if (stderr.some(e => e.textContent.includes('Traceback'))) return true;
            const prompts = [...document.querySelectorAll(
                '.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length >= n && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        arg=[n_code_cells, STDERR_OUTPUT], timeout=timeout_ms, polling=500,
    )


def wait_for_canvas_or_widget_error(page: Page, timeout_ms: int) -> None:
    """Wait until the last code cell's output holds a canvas or shows a widget error."""
    page.wait_for_function(
        """([errorTexts, errorWidget]) => {
            const cells = document.querySelectorAll('.jp-Notebook .jp-CodeCell');
            const out = cells.length ? cells[cells.length - 1].querySelector('.jp-OutputArea')
                                     : null;
            return out !== null && (out.querySelector('canvas') !== null
                                    || out.querySelector(errorWidget) !== null
                                    || errorTexts.some(t => out.textContent.includes(t)));
        }""",
        arg=[list(PAGE_ERROR_TEXTS), ERROR_WIDGET], timeout=timeout_ms, polling=500,
    )


def last_cell_canvas(page: Page):
    """Locator of the (NGL) canvas in the output area of the last code cell."""
    return page.locator(".jp-Notebook .jp-CodeCell").last.locator(".jp-OutputArea canvas").first


def drawn_fraction(png_path: Path, tolerance: int = COLOR_TOLERANCE) -> float:
    """Fraction of pixels whose colour differs from the background by more than ``tolerance``.

    The background is the most common colour of the image.
    """
    from PIL import Image

    img = Image.open(png_path).convert("RGB")
    counts = img.getcolors(maxcolors=img.width * img.height)  # [(count, (r, g, b)), ...]
    background = max(counts)[1]
    differing = sum(n for n, rgb in counts
                    if max(abs(c - b) for c, b in zip(rgb, background)) > tolerance)
    return differing / (img.width * img.height)


def wait_for_drawing(canvas, png_path: Path, timeout_s: float) -> float:
    """Screenshot ``canvas`` into ``png_path`` until the drawing is there and has settled.

    NGL loads the model and the map one after the other, so poll until the drawn
    fraction exceeds the threshold and stays the same between two screenshots.
    Returns the last drawn fraction (possibly below the threshold after ``timeout_s``).
    """
    deadline = time.monotonic() + timeout_s
    previous = -1.0
    while True:
        canvas.screenshot(path=str(png_path))
        fraction = drawn_fraction(png_path)
        settled = abs(fraction - previous) < 0.002
        if (fraction > MIN_DRAWN_FRACTION and settled) or time.monotonic() > deadline:
            return fraction
        previous = fraction
        time.sleep(2)


def is_widget_error(message: str) -> bool:
    """True when a console error text points at a widget that failed to load or render."""
    text = message.lower()
    return any(marker in text for marker in WIDGET_ERROR_MARKERS)


# --------------------------------------------------------------------------- the test


@pytest.fixture
def lab_root(tmp_path: Path) -> Path:
    """A JupyterLab root with a copy of ``notebooks/00_quickstart.ipynb``, outputs cleared.

    The notebook's default ``run_dir`` (``papermill_runs/...`` under the kernel's folder) lands inside this root.
    """
    import nbformat

    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:  # stale outputs or counts would fool the waits below
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, root / "notebooks" / NOTEBOOK.name)
    return root


@pytest.fixture
def lab(lab_root: Path, tmp_path: Path) -> Iterator[LabServer]:
    """JupyterLab serving ``lab_root``; its log goes to ``jupyterlab.log`` in ``tmp_path``."""
    log_path = tmp_path / "jupyterlab.log"
    with jupyter_lab(lab_root, log_path) as server:
        yield server


@dataclass
class NotebookRun:
    """What the browser saw of one "Run All" of the notebook."""

    drawn_fraction: float  # of the NGL canvas
    tracebacks: list[str]  # outputs holding a Python traceback
    error_widgets: int  # widget-manager error placeholders in the notebook
    notebook_text: str  # visible text of the whole notebook
    console: list[tuple[str, str]]  # (type, text) of console messages and page errors


def run_notebook_in_lab(page: Page, lab: LabServer, notebook: str, n_code_cells: int,
                        canvas_png: Path) -> NotebookRun:
    """Open ``notebook`` in JupyterLab, run all cells and screenshot the last cell's canvas."""
    console: list[tuple[str, str]] = []
    page.on("console", lambda msg: console.append((msg.type, msg.text)))
    page.on("pageerror", lambda err: console.append(("pageerror", str(err))))

    page.goto(lab.url(f"/lab/tree/{notebook}"), timeout=NOTEBOOK_LOAD_TIMEOUT_MS)
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=NOTEBOOK_LOAD_TIMEOUT_MS)
    wait_for_kernel_idle(page, NOTEBOOK_LOAD_TIMEOUT_MS)
    run_all_cells(page)
    wait_for_all_cells_run(page, n_code_cells, RUN_ALL_TIMEOUT_MS)

    tracebacks = page.locator(STDERR_OUTPUT, has_text="Traceback")
    fraction = 0.0
    if tracebacks.count() == 0:
        with contextlib.suppress(PlaywrightTimeoutError):  # no canvas: the asserts tell why
            wait_for_canvas_or_widget_error(page, CANVAS_TIMEOUT_MS)
        canvas = last_cell_canvas(page)
        if canvas.count():
            canvas.scroll_into_view_if_needed()
            fraction = wait_for_drawing(canvas, canvas_png, DRAW_TIMEOUT_S)
    return NotebookRun(
        drawn_fraction=fraction,
        tracebacks=tracebacks.all_inner_texts(),
        error_widgets=page.locator(ERROR_WIDGET).count(),
        notebook_text=page.locator(".jp-Notebook").inner_text(),
        console=console,
    )


def print_console(console: list[tuple[str, str]]) -> None:
    """Print the browser's errors and warnings (shown with ``pytest -s``)."""
    for kind, text in console:
        if kind in ("error", "warning", "pageerror"):
            print(f"browser console {kind}: {text[:300]}")


@pytest.mark.timeout(600)
def test_quickstart_widget_draws_in_jupyterlab(lab: LabServer, lab_root: Path) -> None:
    """Run all cells of the quickstart in JupyterLab; the NGL view of ADK in its map draws."""
    import nbformat

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    canvas_png = OUTPUT_DIR / "adk_in_map.png"
    page_png = OUTPUT_DIR / "jupyterlab.png"
    notebook = f"notebooks/{NOTEBOOK.name}"
    n_code_cells = sum(c.cell_type == "code"
                       for c in nbformat.read(lab_root / notebook, as_version=4).cells)

    started = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            result = run_notebook_in_lab(page, lab, notebook, n_code_cells, canvas_png)
        finally:
            page.screenshot(path=str(page_png), full_page=True)  # also when it failed
            browser.close()
    print(f"\ncanvas drawn fraction: {result.drawn_fraction:.3f} "
          f"(browser session {time.monotonic() - started:.1f} s)")
    print_console(result.console)

    assert not result.tracebacks, f"a cell raised: {result.tracebacks}"
    widget_errors = [(kind, text) for kind, text in result.console
                     if kind in ("error", "pageerror") and is_widget_error(text)]
    assert not widget_errors, f"widget errors in the browser console: {widget_errors}"
    assert result.error_widgets == 0, "a widget failed to render (error placeholder shown)"
    for text in PAGE_ERROR_TEXTS:
        assert text not in result.notebook_text, f"{text!r} shown in the notebook"
    assert result.drawn_fraction > MIN_DRAWN_FRACTION, (
        f"the NGL canvas looks blank: only {result.drawn_fraction:.2%} of its pixels differ "
        f"from the background (need > {MIN_DRAWN_FRACTION:.0%}); see {canvas_png}")


FIGURES_NOTEBOOK = NOTEBOOK.with_name("07_validation_figures.ipynb")


@pytest.mark.timeout(600)
def test_validation_figures_render_in_jupyterlab(tmp_path: Path) -> None:
    """Notebook 07 run in JupyterLab shows every figure of figures/ as a decoded image."""
    import nbformat

    from cryonb.figures.book import FIGURES

    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    nb = nbformat.read(FIGURES_NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, root / "notebooks" / FIGURES_NOTEBOOK.name)
    n_code_cells = sum(c.cell_type == "code" for c in nb.cells)
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    with jupyter_lab(root, tmp_path / "jupyterlab.log") as lab, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(lab.url(f"/lab/tree/notebooks/{FIGURES_NOTEBOOK.name}"), timeout=NOTEBOOK_LOAD_TIMEOUT_MS)
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=NOTEBOOK_LOAD_TIMEOUT_MS)
            wait_for_kernel_idle(page, NOTEBOOK_LOAD_TIMEOUT_MS)
            run_all_cells(page)
            wait_for_all_cells_run(page, n_code_cells, RUN_ALL_TIMEOUT_MS)
            tracebacks = page.locator(STDERR_OUTPUT, has_text="Traceback").all_inner_texts()
            images = page.locator(".jp-OutputArea-output img")
            widths = [images.nth(k).evaluate("img => img.naturalWidth") for k in range(images.count())]
        finally:
            page.screenshot(path=str(OUTPUT_DIR / "figures_notebook.png"), full_page=True)
            browser.close()
    assert not tracebacks, f"a cell raised: {tracebacks}"
    assert len(widths) == len(FIGURES) and min(widths) > 100, widths
