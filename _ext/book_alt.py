"""Alt text for the book's figures: the caption of the figure, instead of the name of
the image file that Sphinx puts there by default."""

import re

from docutils import nodes

_FILE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif")


def _plain(text: str) -> str:
    """The caption's TeX read aloud: ``\\mathrm{KL}`` as KL, ``\\beta_1`` as beta_1."""
    text = re.sub(
        r"\\(?:mathrm|mathcal|operatorname|text|mathbf)\{([^}]*)\}", r"\1", text
    )
    text = re.sub(r"\\[,;:! ]", " ", text)  # TeX spacing
    text = re.sub(r"\\([A-Za-z]+)", r" \1 ", text)
    text = text.replace("{", "").replace("}", "").replace("\\", "")
    return " ".join(text.split())


def _caption_alt(app, doctree, docname):
    for figure in doctree.findall(nodes.figure):
        captions = list(figure.findall(nodes.caption))
        if not captions:
            continue
        text = _plain(captions[0].astext())
        for image in figure.findall(nodes.image):
            alt = image.get("alt", "")
            if not alt or alt.lower().endswith(_FILE_SUFFIXES):
                image["alt"] = text


def setup(app):
    app.connect("doctree-resolved", _caption_alt)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
