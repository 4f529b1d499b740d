"""The lesson page in a real browser: headless Chromium (the Debian package).

Skipped when no Chromium is installed, except under ``CI=true``, where
``.ci/run`` installs it and a missing browser is a failure. Most tests read
what Chromium renders; the interactive ones drive it through the DevTools
protocol over a pipe (``--remote-debugging-pipe``): real mouse clicks and
key presses, then what is visible.
"""

import base64
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

from matnn.lesson import lesson_page

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    found = next((path for path in map(shutil.which, BROWSERS) if path), None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI=true but no Chromium found; .ci/run installs it with apt-get")
        pytest.skip("no headless browser: install Chromium (apt-get install chromium) "
                    "to run the browser tests")
    return found


@pytest.fixture(scope="module")
def lesson_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("browser") / "lesson.html"
    path.write_text(lesson_page(runs=12), encoding="utf-8")
    return path


def read_png_bytes(blob, tmp_path):
    path = tmp_path / "shot.png"
    path.write_bytes(blob)
    return read_png(path)


PLACE_PIPES = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
               "os.execv(sys.argv[3], sys.argv[3:])")


def _above_nine(fd):
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class DevTools:
    """Chromium driven over the DevTools protocol, through the pipe on its fds 3 and 4."""

    TIMEOUT = 60

    def __init__(self, browser, profile):
        to_browser, self.writer = os.pipe()
        self.reader, from_browser = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4. A small Python
        # puts its ends of the pipes there (from above 9, so that placing one cannot
        # close the other), then becomes Chromium.
        to_browser, from_browser = (_above_nine(fd) for fd in (to_browser, from_browser))
        self.process = subprocess.Popen(
            [sys.executable, "-c", PLACE_PIPES, str(to_browser), str(from_browser), browser,
             *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "--window-size=1000,900"],
            pass_fds=(to_browser, from_browser), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self.buffer, self.last_id, self.session = b"", 0, None
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.send("Page.enable")

    def send(self, method, **params):
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params}
        if self.session is not None:
            message["sessionId"] = self.session
        os.write(self.writer, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.receive()
            if reply.get("id") == self.last_id:
                assert "error" not in reply, reply["error"]
                return reply["result"]

    def receive(self):
        deadline = time.monotonic() + self.TIMEOUT
        while b"\0" not in self.buffer:
            ready, _, _ = select.select([self.reader], [], [], deadline - time.monotonic())
            assert ready, "Chromium did not answer within a minute"
            chunk = os.read(self.reader, 1 << 16)
            assert chunk, "Chromium closed the pipe"
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def open(self, url):
        self.send("Page.navigate", url=url)
        while self.receive().get("method") != "Page.loadEventFired":
            pass

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def click(self, selector):
        """A real left click in the middle of the element, scrolled into view first."""
        x, y = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
            "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); "
            "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)

    def press(self, key, code):
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", type=kind, key=key, code=key,
                      windowsVirtualKeyCode=code)

    def screenshot(self, selector):
        """The PNG bytes of the element's box, as rendered."""
        x, y, width, height = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
            "e.scrollIntoView(); const r = e.getBoundingClientRect(); "
            "return [r.x + scrollX, r.y + scrollY, r.width, r.height]; })()")
        shot = self.send("Page.captureScreenshot", format="png",
                         clip={"x": x, "y": y, "width": width, "height": height, "scale": 1})
        return base64.b64decode(shot["data"])

    def close(self):
        try:
            self.send("Browser.close")
            self.process.wait(timeout=self.TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            os.close(self.writer)
            os.close(self.reader)


@pytest.fixture(scope="module")
def page(browser, lesson_file, tmp_path_factory):
    """The lesson page open in Chromium, driven through DevTools."""
    tools = DevTools(browser, tmp_path_factory.mktemp("devtools") / "profile")
    try:
        tools.open(lesson_file.as_uri())
        yield tools
    finally:
        tools.close()


def chromium(browser, tmp_path, *args):
    done = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_dom_has_the_lessons_labels(browser, lesson_file, tmp_path):
    dom = chromium(browser, tmp_path, "--dump-dom", lesson_file.as_uri())
    for label in ("1. The worked example", "2. The same example in matrix form", "3. Training",
                  "4. Watching it learn", "5. The trained network", "6. Many seeds",
                  "h1 = 0.0474", "o1 = 0.524", "0.0214", "Z1 = X @ W1.T + b1", "weight (lb)",
                  "height (in)", "Emily?", "12 of 12", 'data-neuron="h1"', 'data-epoch="1000"'):
        assert label in dom, label


def read_png(path):
    """The pixels of an 8-bit RGB or RGBA PNG, as an array of shape (height, width, channels)."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(blob):
        (length,), kind = struct.unpack(">I", blob[pos:pos + 4]), blob[pos + 4:pos + 8]
        body = blob[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
        elif kind == b"IDAT":
            idat += body
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), np.int64)
    previous = np.zeros(stride, np.int64)
    for row in range(height):
        kind, line = raw[row, 0], raw[row, 1:].astype(np.int64)
        if kind == 0:
            current = line
        elif kind == 2:
            current = (line + previous) % 256
        else:
            # Sub, Average and Paeth depend on the pixel to the left: go pixel by pixel.
            current = np.zeros(stride, np.int64)
            for i in range(stride):
                a = current[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                if kind == 1:
                    predictor = a
                elif kind == 3:
                    predictor = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    predictor = a if pa <= pb and pa <= pc else b if pb <= pc else c
                current[i] = (line[i] + predictor) % 256
        out[row] = current
        previous = current
    return out.reshape(height, width, channels)


def test_screenshot_is_not_blank(browser, lesson_file, tmp_path):
    shot = tmp_path / "lesson.png"
    chromium(browser, tmp_path, f"--screenshot={shot}", "--window-size=900,1400",
             "--hide-scrollbars", lesson_file.as_uri())
    pixels = read_png(shot)[:, :, :3]
    assert pixels.shape[:2] == (1400, 900)
    ink = (pixels.min(axis=2) < 200).mean()  # share of pixels that are not near-white
    assert 0.01 < ink < 0.6
    assert pixels.std() > 20
    # Colour from the diagram's edges: some pixels are clearly blue.
    blue = (pixels[:, :, 2].astype(int) - pixels[:, :, 0] > 60).mean()
    assert blue > 0.001


SHOWN = """[...document.querySelectorAll(%s)].filter(e => e.checkVisibility() &&
           e.getBoundingClientRect().width > 0)"""


def shown(page, selector, attribute):
    return page.evaluate(SHOWN % json.dumps(selector) + f".map(e => e.getAttribute('{attribute}'))")


def test_the_page_shows_the_matrix_form(page):
    text = page.evaluate("[...document.querySelectorAll('h2')].find(h => h.textContent"
                         ".startsWith('2.')).nextElementSibling.nextElementSibling.innerText")
    for shown_ in ("W1", "Z1 = X @ W1.T + b1", "A1", "delta1", "dW1 = delta1.T @ X",
                   "0.0474", "0.524", "0.0214 as the lesson rounds it"):
        assert shown_ in text.replace(", as the lesson", " as the lesson"), shown_
    # Each entry carries its name in the lesson, on screen and as a tooltip.
    cells = shown(page, "table.matrix td", "title")
    assert {"W1[0, 0] is w1", "W1[0, 1] is w2", "W1[1, 0] is w3", "W1[1, 1] is w4",
            "A1[0, 0] is h1", "A2[0, 0] is o1", "dW1[0, 0] is \u2202L/\u2202w1"} <= set(cells)
    links = page.evaluate("[...document.querySelectorAll('a')].map(a => a.href)")
    assert links[0] == "https://victorzhou.com/blog/intro-to-neural-networks/"
    assert links[1].endswith("/docs/derivation.md")


def test_one_map_per_neuron_on_screen(page):
    figure = ("[...document.querySelectorAll('figure')].find(f => f.querySelector("
              "'svg[aria-label^=\"What each neuron computes\"]'))")
    boxes = page.evaluate(
        f"[...{figure}.querySelectorAll('[data-neuron]')].map(g => {{ const r = "
        "g.getBoundingClientRect(); return [g.dataset.neuron, r.x, r.y, r.width, r.height, "
        "g.checkVisibility()]; })")
    assert [b[0] for b in boxes] == ["h1", "h2", "o1"]
    for name, x, y, width, height, visible in boxes:
        assert visible and width > 40 and height > 40, name
    # Three separate squares.
    for (_, x0, y0, w0, h0, _), (_, x1, y1, w1, h1, _) in zip(boxes, boxes[1:]):
        assert x0 + w0 <= x1 or x1 + w1 <= x0 or y0 + h0 <= y1 or y1 + h1 <= y0


def test_choosing_a_snapshot_changes_what_is_visible(page, tmp_path):
    assert shown(page, ".snapshot", "data-epoch") == ["0"]
    start = read_png_bytes(page.screenshot(".snapshots"), tmp_path)
    page.click('.snapshot[data-epoch="0"] label.step')
    assert shown(page, ".snapshot", "data-epoch") == ["1"]
    after_one = read_png_bytes(page.screenshot(".snapshots"), tmp_path)
    # One epoch moves the maps and the decision boundary: many pixels change.
    same_size = min(start.shape[0], after_one.shape[0])
    changed = np.any(start[:same_size] != after_one[:same_size], axis=2).mean()
    assert changed > 0.01
    page.click('label[for="epoch-1000"]')
    assert shown(page, ".snapshot", "data-epoch") == ["1000"]
    text = page.evaluate("document.querySelector('.snapshot[data-epoch=\"1000\"]').innerText")
    assert text.startswith("After 1000 epochs: loss L = 0.0024")
    # The radio buttons step with the arrow keys too.
    page.press("ArrowLeft", 37)
    assert shown(page, ".snapshot", "data-epoch") == ["900"]
    page.click('.snapshot[data-epoch="900"] label.step')
    assert shown(page, ".snapshot", "data-epoch") == ["800"]
