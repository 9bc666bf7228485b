"""The one escaping function of the model card: text from a user or a file as inert Markdown.

Everything the card (:mod:`.card`) shows that brainsynth did not write itself (study names,
the evaluation file's name, metric keys and values, class names, the training data's
description, device names...) passes through :func:`escape` where it is inserted, so it
renders as the same characters and nothing else: no HTML (``<img onerror=...>``), no link or
image (``[x](javascript:...)``, ``![](http://...)``), no emphasis, heading or code span, no
table cell boundary (``|``) and no line break (a newline would end a table row).
"""

from __future__ import annotations

import re
from typing import Any

MAX_TEXT = 200
"""Characters of one value the card shows (a longer one is cut, with an ellipsis)."""
# Every ASCII character with a Markdown meaning inline, GitHub's and Hugging Face's
# extensions included (| table cells, ~ strikethrough, $ maths); CommonMark lets any ASCII
# punctuation be backslash-escaped. '<', '>' and '&' become HTML entities instead, so no tag
# or entity reaches the renderer, whether it honours HTML or not.
MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|~$])")
HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")  # newlines and other controls


def escape(value: Any, limit: int = MAX_TEXT) -> str:
    """``value`` as text that Markdown and HTML renderers show literally, on one line, at
    most ``limit`` characters (plus an ellipsis), safe in a table cell."""
    text = BREAKS.sub(" ", str(value)).strip()
    if len(text) > limit:
        text = text[:limit] + "…"
    text = "".join(HTML.get(c, c) for c in text)
    return MARKDOWN.sub(r"\\\1", text)
