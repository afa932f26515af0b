"""The report of the main job: Markdown fragments and figures, written as soon as each section
finishes, so that a failing or interrupted section never loses the work of the others."""

import dataclasses
import datetime
import os
import platform
import traceback
from pathlib import Path

from ._config import RunConfig


@dataclasses.dataclass
class SectionResult:
    """What a section returns: its Markdown fragment (no top-level heading; the report adds
    `## <title>`) and the figures it wrote (paths of PNG files inside the output folder)."""

    markdown: str
    figures: list[Path] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Entry:
    name: str
    title: str
    seconds: float
    result: SectionResult | None
    error: str | None


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


class Report:
    """`report.md` in the output folder, rewritten in full (atomically: a temporary file, then a
    rename) after every section, with the sections finished so far, their figures, timings, and
    the traceback of any section that failed."""

    def __init__(self, config: RunConfig):
        self.config = config
        self.out = Path(config.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.path = self.out / "report.md"
        self.entries: list[_Entry] = []
        self.started = datetime.datetime.now().astimezone()
        self.write()

    @property
    def failed(self) -> list[str]:
        return [e.name for e in self.entries if e.error is not None]

    def add(self, name: str, title: str, seconds: float, result: SectionResult | None = None,
            error: BaseException | None = None) -> None:
        """Records a finished (or failed) section and rewrites the report at once."""
        text = None
        if error is not None:
            text = "".join(traceback.format_exception(error)).rstrip()
        self.entries.append(_Entry(name, title, seconds, result, text))
        self.write()

    def _header(self) -> str:
        import jax

        cfg = self.config
        lines = [
            "# ganflow report",
            "",
            f"Run started {self.started:%Y-%m-%d %H:%M:%S %Z} on {platform.node() or 'this host'}"
            f" (Python {platform.python_version()}, jax {jax.__version__}, "
            f"{jax.default_backend()} backend, float64 "
            f"{'on' if jax.config.jax_enable_x64 else 'off'}).",
            "",
            f"Settings: sections {', '.join(cfg.sections) or '(none)'}; "
            f"{'quick (smoke) run' if cfg.quick else 'full run'}; seed {cfg.seed}; "
            f"learning rate h = {cfg.eta:g}; start offset {cfg.offset:g}; "
            f"simulated time T = {cfg.time_horizon:g}.",
            "",
            "Conventions (stated here in full; the ganflow repository's docs/conventions.md "
            "derives them): the state is x = (θ, ω), generator first; the field is "
            "b0 = (−∇_θΦ, +∇_ωΦ) and J = ∂b0/∂x its Jacobian; simultaneous GD is x ← x + h b0 "
            "(update operator F′ = I + hJ), alternating GD moves the discriminator first.",
        ]
        return "\n".join(lines)

    def render(self) -> str:
        parts = [self._header()]
        if self.entries:
            summary = [[e.name, "failed" if e.error else "ok", f"{e.seconds:.1f}",
                        str(len(e.result.figures) if e.result else 0)] for e in self.entries]
            parts.append("## Sections\n\n" + markdown_table(
                ["section", "status", "seconds", "figures"], summary))
        for e in self.entries:
            body = [f"## {e.title}"]
            if e.error is not None:
                body.append(f"**This section failed** after {e.seconds:.1f} s; the other "
                            "sections ran on. The error:\n\n```text\n" + e.error + "\n```")
            if e.result is not None:
                body.append(e.result.markdown.strip())
                if e.result.figures:
                    links = []
                    for fig in e.result.figures:
                        rel = os.path.relpath(fig, self.out)
                        links.append(f"![{Path(rel).stem}]({rel})")
                    body.append("Figures:\n\n" + "\n\n".join(links))
            parts.append("\n\n".join(body))
        return "\n\n".join(parts) + "\n"

    def write(self) -> Path:
        tmp = self.path.with_suffix(".md.tmp")
        tmp.write_text(self.render(), encoding="utf-8")
        os.replace(tmp, self.path)
        return self.path
