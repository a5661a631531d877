"""Screenshots of the built site in headless Chromium: docs/images/screens/*.png.

    python docs/screens.py [SITE_DIR]      (default site/; needs selenium, chromium, chromedriver)

The site loads KaTeX from a CDN; this machine may be offline, so the pages are copied to a
temporary folder with the CDN addresses pointed at a local copy of the same KaTeX version
(Debian's libjs-katex, /usr/share/javascript/katex, or $KATEX_DIR). Each screenshot is taken
after the maths has rendered; the script reports per page how many formulas KaTeX rendered,
how many images loaded, and any '$' or '\\(' left unrendered in the text.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "screens"
CDN = "https://cdn.jsdelivr.net/npm/katex@0.16.4/dist/"
PAGES = {"home": "index.html", "guide_invariants": "guide/invariants/index.html",
         "api_simulate": "reference/simulate/index.html",
         "gallery_gd_flow_distance": "gallery/gd_flow_distance/index.html",
         "gallery_gd_flow_distance_table": "gallery/gd_flow_distance/index.html#paper-against-ours",
         "cli": "cli/index.html"}


def local_copy(site: Path, katex: Path) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="dlnflow-site-"))
    shutil.copytree(site, tmp / "site")
    for page in (tmp / "site").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if CDN in text:
            text = text.replace(CDN + "contrib/auto-render.min.js",
                                (katex / "contrib" / "auto-render.js").as_uri())
            page.write_text(text.replace(CDN, katex.as_uri() + "/"), encoding="utf-8")
    return tmp / "site"


def main() -> int:
    site = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "site"
    katex = Path(os.environ.get("KATEX_DIR", "/usr/share/javascript/katex"))
    copy = local_copy(site, katex)
    opts = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
                "--allow-file-access-from-files"):
        opts.add_argument(arg)
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        for name, rel in PAGES.items():
            path, _, anchor = rel.partition("#")
            driver.get((copy / path).as_uri() + (f"#{anchor}" if anchor else ""))
            time.sleep(1.5)
            math = driver.execute_script("return document.querySelectorAll('.katex').length")
            imgs = driver.execute_script(
                "return [...document.images].filter(i => i.complete && i.naturalWidth > 0)"
                ".length + '/' + document.images.length")
            text = driver.execute_script("return document.querySelector('article').innerText")
            raw = sum(text.count(s) for s in ("$$", "\\(", "\\["))
            nav = driver.execute_script("return document.querySelectorAll('nav a').length")
            driver.save_screenshot(str(OUT / f"{name}.png"))
            print(f"{name}: katex formulas {math}, images loaded {imgs}, unrendered maths "
                  f"markers {raw}, navigation links {nav}")
    finally:
        driver.quit()
        shutil.rmtree(copy.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
