"""The model card shows text from users and files literally: no HTML, links, images or broken
tables, whatever the study names, evaluation file name, metric keys or data descriptions."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import markdown  # Python-Markdown (a dependency of tensorboard): renders raw HTML as given
import pytest

from brainsynth.cli import main
from brainsynth.export.card import model_card
from brainsynth.export.markdown import escape
from brainsynth.models.checkpoint import ModelRecord
from export_helpers import tiny_conditional_run

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "![](http://evil.example/pixel.png)",
    "a | b || c",
    "two\nlines\r\nand\u2028more",
    "<script>alert(1)</script>",
    "`code` *bold* _it_ # h ~~s~~ $x$ \\",
    "&lt;img src=x&gt; &#60;b&#62;",
]
ALLOWED_TAGS = {"h1", "h2", "p", "table", "thead", "tbody", "tr", "th", "td", "strong", "em",
                "code", "pre", "ul", "li", "blockquote", "hr"}  # fmt: skip


class Tags(HTMLParser):
    """The tags of rendered HTML, the cells per table row and each cell's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list]] = []
        self.rows: list[int] = []
        self.cells: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, attrs))
        if tag == "tr":
            self.rows.append(0)
        elif tag in ("td", "th"):
            self.rows[-1] += 1
            self.cells.append("")

    def handle_data(self, data) -> None:
        self.text.append(data)
        if self.cells:
            self.cells[-1] += data


def render(text: str) -> Tags:
    parser = Tags()
    parser.feed(markdown.markdown(text, extensions=["tables"]))
    return parser


def shown(text: str) -> str:
    """What a reader sees: whitespace collapsed; the backslashes before ~ and $ that
    GitHub-style renderers remove (Python-Markdown, used here, does not know them)."""
    return " ".join(text.replace("\\~", "~").replace("\\$", "$").split())


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_renders_the_same_characters_and_nothing_else(text: str) -> None:
    cell = escape(text)
    assert "\n" not in cell and "\r" not in cell and "<" not in cell
    parsed = render(f"| a | b |\n|---|---|\n| {cell} | x |\n")
    assert {tag for tag, _ in parsed.tags} <= {"table", "thead", "tbody", "tr", "th", "td"}
    assert parsed.rows == [2, 2]  # the table kept its two columns
    assert shown(parsed.cells[2]) == " ".join(text.replace("\u2028", " ").split())


def test_escape_cuts_long_values() -> None:
    assert len(escape("x" * 10_000)) == 201


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict:
    run = tiny_conditional_run(tmp_path_factory.mktemp("card"))
    out = tmp_path_factory.mktemp("exports") / "sg2"
    assert main(["export", str(run), str(out)]) == 0
    return json.loads((out / "config.json").read_text())


def test_the_card_escapes_everything_from_users_and_files(config: dict) -> None:
    evil = " ".join(HOSTILE)
    metrics = {"n_real": evil, "n_fake": 10, "sequence": evil, "image_size": evil,
               "fid": 1.5, "fid_ci95": [evil, 2.0], f"{evil}_ci95": [0, 1], evil: 0.5}  # fmt: skip
    vtt = {"name": evil, "n_real": 4, "n_fake": 4, "raters": [{"name": evil}], "complete": True,
           "accuracy": 0.5, "wilson_ci": [0.2, 0.8], "p_value": 1.0, "real_as_real": 2,
           "real_as_synthetic": 2, "synthetic_as_real": 2, "synthetic_as_synthetic": 2,
           "kappa": 0.1, "kappa_method": evil}  # fmt: skip
    config = {**config, "training_data": {**config["training_data"], "plane": evil,
              "resize": evil, "normalization": evil, "grade_filter": evil,
              "layouts": {evil: 3}, "grades": {evil: 3}, "slice_range": evil}}  # fmt: skip
    train = {"objective": {"name": evil, "n_critic": evil},
             "optimizer": {"kind": evil, "lr": evil, "betas": [evil]},
             "augment": {"policy": [evil], "ada_target": 0.6}}  # fmt: skip
    model = ModelRecord.read(config["arch"], config["arch_config"], config["shape"], "config")
    card = model_card(config, model, train, metrics, f"{evil}.json", vtt)
    parsed = render(card)
    assert {tag for tag, _ in parsed.tags} <= ALLOWED_TAGS, parsed.tags
    assert not any(attrs for _, attrs in parsed.tags)  # no src, href, onerror
    tables = [n for n in parsed.rows]
    assert set(tables) == {2, 3}  # property tables have 2 columns, the metrics table 3
    assert "[click](javascript:alert(1))" in "".join(parsed.text)  # text, not a link
    for line in card.splitlines():
        if line.startswith("|"):
            cells = [c for c in line.replace("\\|", "").split("|")[1:-1]]
            assert len(cells) in (2, 3), line


def test_a_hostile_evaluation_file_name_through_the_cli(tmp_path: Path, config: dict) -> None:
    run = tiny_conditional_run(tmp_path)
    metrics = tmp_path / "<img src=x onerror=alert(1)>|[a](javascript:x).json"
    metrics.write_text(json.dumps({"fid": 2.0, "fid_ci95": [1.0, 3.0], "<b>|x_ci95": [0, 1],
                                   "<b>|x": 0.5}))  # fmt: skip
    out = tmp_path / "export"
    assert main(["export", str(run), str(out), "--evaluation", str(metrics)]) == 0
    card = (out / "README.md").read_text()
    assert "<img" not in card and "<b>" not in card and "](javascript" not in card
    assert "From &lt;img src=x onerror=alert\\(1\\)&gt;\\|\\[a\\]\\(javascript:x\\).json" in card
    assert "| &lt;b&gt;\\|x | 0.5 | [0, 1] |" in card
