"""The lesson page in a real browser: headless Chromium (the Debian package).

Skipped when no Chromium is installed, except under ``CI=true``, where
``.ci/run`` installs it and a missing browser is a failure.
"""

import os
import shutil
import struct
import subprocess
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


def chromium(browser, tmp_path, *args):
    done = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_dom_has_the_lessons_labels(browser, lesson_file, tmp_path):
    dom = chromium(browser, tmp_path, "--dump-dom", lesson_file.as_uri())
    for label in ("1. The worked example", "2. Training", "3. The trained network",
                  "4. Many seeds", "h1 = 0.0474", "o1 = 0.524", "0.0214", "weight (lb)",
                  "height (in)", "Emily?", "12 of 12"):
        assert label in dom, label
    assert dom.count("<svg") == 5  # two diagrams, the loss, the boundary, the histogram


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
