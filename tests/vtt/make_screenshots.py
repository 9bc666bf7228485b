"""Make the README screenshots docs/images/vtt-rater.png and docs/images/vtt-admin.png.

Run: ``.venv/bin/python tests/vtt/make_screenshots.py`` (needs /usr/bin/chromium). Builds two
small studies from phantom sagittal slices (blurred, noisier copies stand in for a GAN's
output), lets three simulated raters answer over HTTP against a live server, and photographs
a rater mid-study and the admin results in headless Chromium. The simulated raters' thinking
time (a few seconds per image) is simulated by moving each image's "shown" time back.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from vtt_helpers import (  # noqa: E402
    ADMIN_TOKEN,
    CSRF_FIELD,
    POSITION_FIELD,
    LiveServer,
    blob_dataset,
)

from brainsynth.data.dataset import load_prepared, write_prepared  # noqa: E402
from brainsynth.vtt import db as vttdb  # noqa: E402
from brainsynth.vtt.study import create_study, invite  # noqa: E402

DOCS = Path(__file__).resolve().parents[2] / "docs" / "images"
SIZE = 128


def phantom_prepared(root: Path, patients: int = 3) -> Path:
    """Sagittal 128 x 128 slices of a few phantom patients (blob images if it is missing)."""
    try:
        from PIL import Image

        from brainsynth.phantom import synthesize_patient
    except ImportError:
        return blob_dataset(root, patients=patients, slices=8, size=SIZE)
    images, rows = [], []
    for p in range(patients):
        volumes = synthesize_patient(seed=0, index=p).volumes
        for x in range(104, 136, 4):
            channels = []
            for seq in ("t1", "t1c", "t2", "flair"):
                plane = volumes[seq][x].T[::-1].astype(np.float32)  # superior up
                plane = plane / max(float(np.percentile(plane, 99.5)), 1.0)
                pil = Image.fromarray(np.clip(plane, 0, 1), mode="F").resize((SIZE, SIZE))
                channels.append(np.clip(np.asarray(pil), 0, 1))
            images.append(np.stack(channels))
            rows.append(
                {
                    "patient": f"PH{p:03d}",
                    "grade": "HGG",
                    "plane": "sagittal",
                    "slice": x,
                    "tumor_pixels": "",
                }
            )
    return write_prepared(root, np.stack(images), rows, {"source": "phantom", "size": SIZE})


def fake_from(real: np.ndarray, seed: int) -> np.ndarray:
    """Blurred, noisier copies: a stand-in for a generator's samples."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    blurred = gaussian_filter(real, sigma=(0, 0, 1.2, 1.2))
    return np.clip(blurred + 0.03 * rng.standard_normal(real.shape), 0, 1).astype(np.float32)


def simulate(server: LiveServer, db: Path, token: str, skill: float, stop: int, seed: int):
    """Answer ``stop`` images as a rater who is right with probability ``skill``."""
    rng = np.random.default_rng(seed)
    with vttdb.opened(db) as conn:
        truth = dict(
            conn.execute(
                "SELECT a.position, i.truth FROM assignments a JOIN raters r ON r.id = a.rater_id "
                "JOIN items i ON i.id = a.item_id WHERE r.token = ?",
                (token,),
            ).fetchall()
        )
    with httpx.Client(base_url=server.url) as client:
        page = client.get(f"/r/{token}")
        client.post(f"/r/{token}/start", data={"csrf": CSRF_FIELD.search(page.text).group(1)})
        for _ in range(stop):
            page = client.get(f"/r/{token}")
            position = int(POSITION_FIELD.search(page.text).group(1))
            right = truth[position]
            wrong = "synthetic" if right == "real" else "real"
            answer = right if rng.random() < skill else wrong
            think = float(rng.lognormal(np.log(3.0), 0.4))  # seconds spent looking
            with vttdb.opened(db) as conn, vttdb.transaction(conn):
                conn.execute(
                    "UPDATE assignments SET shown_at = shown_at - ? WHERE position = ? AND "
                    "rater_id = (SELECT id FROM raters WHERE token = ?)",
                    (think, position, token),
                )
            client.post(
                f"/r/{token}/answer",
                data={
                    "csrf": CSRF_FIELD.search(page.text).group(1),
                    "position": str(position),
                    "answer": answer,
                },
            )


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dataset = load_prepared(phantom_prepared(root / "prepared"))
        db = root / "vtt.db"
        studies = {}
        for name, seq, n in (
            ("T1 (DCGAN, 128x128)", "t1", 10),
            ("Concat (WGAN, 128x128)", "concat", 12),
        ):
            real = dataset.image_set(seq)
            studies[name] = create_study(
                db,
                name,
                real,
                fake_from(real.float_images(), 1),
                n_real=n,
                n_fake=n,
                seed=2,
                sequence=seq,
            )
        tokens = {}
        for name, study in studies.items():
            for rater in ("Dr. Rossi", "Dr. Tanaka", "Dr. Weber"):
                tokens[name, rater] = invite(db, study, rater)
        server = LiveServer(db)
        server.start()
        try:
            for i, ((name, rater), token) in enumerate(tokens.items()):
                n_items = 20 if name.startswith("T1") else 24
                done = n_items if rater != "Dr. Weber" or name.startswith("T1") else 9
                simulate(server, db, token, 0.55 + 0.07 * (i % 3), done, i)
            viewer = tokens["Concat (WGAN, 128x128)", "Dr. Weber"]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    args=[
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                    ],
                )
                page = browser.new_page(base_url=server.url, viewport={"width": 960, "height": 800})
                page.goto(f"/r/{viewer}")
                page.wait_for_function("document.querySelector('img.stimulus').complete")
                DOCS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(DOCS / "vtt-rater.png"))
                page.set_viewport_size({"width": 1360, "height": 800})
                page.goto(f"/admin?token={ADMIN_TOKEN}")
                page.screenshot(path=str(DOCS / "vtt-admin.png"), full_page=True)
                browser.close()
        finally:
            server.stop()
    print(f"wrote {DOCS / 'vtt-rater.png'} and {DOCS / 'vtt-admin.png'}")


if __name__ == "__main__":
    main()
