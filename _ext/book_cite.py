"""One citation style in the text and in the bibliography: author and year.

The text cites (Merger and Goldt, 2025) (sphinxcontrib-bibtex's ``author_year``
reference style); the bibliography labels each entry the same way, through the pybtex
formatting style ``authoryear`` registered here: the ``plain`` style (which links an
entry's DOI, arXiv identifier and URL) with author-year labels instead of numbers.
"""

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as Plain
from pybtex.style.labels import BaseLabelStyle


def _surname(person) -> str:
    return Text.from_latex(
        " ".join(person.prelast_names + person.last_names)
    ).render_as("text")


class AuthorYearLabels(BaseLabelStyle):
    """ "Ho et al., 2020", "Merger and Goldt, 2025", "Anderson, 2003"."""

    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [_surname(p) for p in people]
            if len(names) > 2:
                who = f"{names[0]} et al."
            else:
                who = " and ".join(names)
            yield f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYear(Plain):
    default_label_style = AuthorYearLabels


register_plugin("pybtex.style.formatting", "authoryear", AuthorYear)


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True}
