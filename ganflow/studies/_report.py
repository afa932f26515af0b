"""Helpers for a study's Markdown report: tables and the save points they show."""


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table (cells have `|` escaped)."""
    def cell(v):
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def save_columns(num_saves: int, most: int) -> list[int]:
    """At most `most` save-point indices for a table or a row of panels: every k-th save from
    the first, with k the smallest stride that fits, and the last save (so 13 saves of 250
    steps give 0, 500, …, 3000 for most = 9)."""
    if num_saves <= most:
        return list(range(num_saves))
    if most <= 1:
        return [num_saves - 1]
    stride = -(-(num_saves - 1) // (most - 1))
    return sorted(set(range(0, num_saves - 1, stride)) | {num_saves - 1})
