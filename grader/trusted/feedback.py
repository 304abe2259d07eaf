"""`feedback`: pictures and notes attached to one test's result in the student's feedback."""
from __future__ import annotations

from pathlib import Path

from grader.authoring.pictures import png_bytes


class Feedback:
    """Pictures and notes attached to one test's result in the student's feedback."""

    def __init__(self, out_dir: Path, prefix: str):
        self.out_dir, self.prefix = out_dir, prefix
        self.images: list[dict] = []
        self.notes: list[str] = []

    def image(self, title: str, image) -> None:
        """An (H, W) or (H, W, 3) array in [0, 1] (see grader.authoring.pictures.grid / line_plot)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        name = f"{self.prefix}-{len(self.images) + 1}.png"
        (self.out_dir / name).write_bytes(png_bytes(image))
        self.images.append({"title": title, "file": name})

    def note(self, text: str) -> None:
        self.notes.append(str(text))
