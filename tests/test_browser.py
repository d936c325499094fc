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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "00_quickstart.ipynb"
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

# Console/page text that means a widget failed to render.
WIDGET_ERROR_MARKERS = (
    "error displaying widget",
    "failed to load model class",
    "could not create view",
    "could not create a view",
    "widget",
    "model class",
)
PAGE_ERROR_TEXTS = ("Error displaying widget", "Failed to load")

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
    from playwright.sync_api import ConsoleMessage, Page, sync_playwright
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


@contextlib.contextmanager
def jupyter_lab(root: Path, log_path: Path) -> Iterator[LabServer]:
    """Run JupyterLab on ``root`` (own process group, isolated settings) for a ``with`` block."""
    server = LabServer(port=free_port(), token=secrets.token_hex(16), root=root)
    lab_state = root.parent / "lab_state"
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
    """Wait until the notebook's execution indicator reports an idle kernel."""
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                           state="attached", timeout=timeout_ms)


def run_all_cells(page: Page) -> None:
    """Run -> Run All Cells from the menu bar."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()


def wait_for_all_cells_run(page: Page, n_code_cells: int, timeout_ms: int) -> None:
    """Wait until every code cell shows an execution count (no ``[*]`` nor ``[ ]``)."""
    page.wait_for_function(
        """n => {
            const prompts = [...document.querySelectorAll(
                '.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length >= n && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        arg=n_code_cells, timeout=timeout_ms, polling=500,
    )


def last_cell_canvas(page: Page):
    """Locator of the NGL canvas in the output area of the last code cell."""
    return page.locator(".jp-CodeCell").last.locator(".jp-OutputArea-output canvas").first


def drawn_fraction(png_path: Path, tolerance: int = COLOR_TOLERANCE) -> float:
    """Fraction of pixels whose colour differs from the background by more than ``tolerance``.

    The background is the most common colour of the image.
    """
    from PIL import Image

    img = Image.open(png_path).convert("RGB")
    pixels = list(img.getdata())
    background = Counter(pixels).most_common(1)[0][0]
    differing = sum(
        1 for p in pixels if max(abs(c - b) for c, b in zip(p, background)) > tolerance
    )
    return differing / len(pixels)


def wait_for_drawing(canvas, png_path: Path, timeout_s: float) -> float:
    """Screenshot ``canvas`` into ``png_path`` until it is drawn; return the drawn fraction."""
    deadline = time.monotonic() + timeout_s
    while True:
        canvas.screenshot(path=str(png_path))
        fraction = drawn_fraction(png_path)
        if fraction > MIN_DRAWN_FRACTION or time.monotonic() > deadline:
            return fraction
        time.sleep(2)


def is_widget_error(message: str) -> bool:
    """True when a console error text points at a widget that failed to load or render."""
    text = message.lower()
    return any(marker in text for marker in WIDGET_ERROR_MARKERS)


# --------------------------------------------------------------------------- the test


@pytest.fixture
def lab_root(tmp_path: Path) -> Path:
    """A JupyterLab root with ``notebooks/00_quickstart.ipynb`` (run folders land beside it)."""
    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy2(NOTEBOOK, root / "notebooks" / NOTEBOOK.name)
    return root


@pytest.fixture
def lab(lab_root: Path, tmp_path: Path) -> Iterator[LabServer]:
    """JupyterLab serving ``lab_root``; its log goes to ``jupyterlab.log`` in ``tmp_path``."""
    log_path = tmp_path / "jupyterlab.log"
    with jupyter_lab(lab_root, log_path) as server:
        yield server


@pytest.mark.timeout(600)
def test_quickstart_widget_draws_in_jupyterlab(lab: LabServer) -> None:
    """Run all cells of the quickstart in JupyterLab; the NGL view of ADK in its map draws."""
    import nbformat

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    canvas_png = OUTPUT_DIR / "adk_in_map.png"
    page_png = OUTPUT_DIR / "jupyterlab.png"
    n_code_cells = sum(c.cell_type == "code" for c in nbformat.read(NOTEBOOK, as_version=4).cells)

    console: list[tuple[str, str]] = []
    started = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda msg: console.append((msg.type, msg.text)))
            page.on("pageerror", lambda err: console.append(("pageerror", str(err))))

            page.goto(lab.url(f"/lab/tree/notebooks/{NOTEBOOK.name}"),
                      timeout=NOTEBOOK_LOAD_TIMEOUT_MS)
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=NOTEBOOK_LOAD_TIMEOUT_MS)
            wait_for_kernel_idle(page, NOTEBOOK_LOAD_TIMEOUT_MS)

            run_all_cells(page)
            wait_for_all_cells_run(page, n_code_cells, RUN_ALL_TIMEOUT_MS)

            canvas = last_cell_canvas(page)
            canvas.wait_for(state="visible", timeout=CANVAS_TIMEOUT_MS)
            canvas.scroll_into_view_if_needed()
            fraction = wait_for_drawing(canvas, canvas_png, DRAW_TIMEOUT_S)
            page.screenshot(path=str(page_png), full_page=True)

            stderr_tracebacks = page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                has_text="Traceback").count()
            error_outputs = page.locator(".jp-OutputArea-output[data-mime-type="
                                         "'application/vnd.jupyter.error']").all_inner_texts()
            page_text = page.locator(".jp-Notebook").inner_text()
        finally:
            browser.close()
    elapsed = time.monotonic() - started

    print(f"\ncanvas drawn fraction: {fraction:.3f} (browser part {elapsed:.1f} s)")
    for kind, text in console:
        if kind in ("error", "warning", "pageerror"):
            print(f"console {kind}: {text[:300]}")

    widget_errors = [(k, t) for k, t in console
                     if k in ("error", "pageerror") and is_widget_error(t)]
    assert not widget_errors, f"widget errors in the browser console: {widget_errors}"
    for text in PAGE_ERROR_TEXTS:
        assert text not in page_text, f"{text!r} shown in the notebook"
    assert not error_outputs, f"cells raised: {error_outputs}"
    assert stderr_tracebacks == 0, "a traceback was printed to stderr"
    assert fraction > MIN_DRAWN_FRACTION, (
        f"the NGL canvas looks blank: only {fraction:.2%} of its pixels differ from the "
        f"background (need > {MIN_DRAWN_FRACTION:.0%}); see {canvas_png}")
