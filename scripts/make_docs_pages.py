"""Writes the documentation site's experiment pages, `docs/experiments/<name>/index.md` with the
figures beside them, and the overview `docs/experiments/index.md`, from ganflow's experiment
registry and real runs.

Each page says what the experiment reproduces (the registry's line and its config's docstring),
how to run it, its presets and its config (`ganflow show NAME`), then the report of a quick
run: its tables and figures exactly as `ganflow run NAME --quick` wrote them.

    python scripts/make_docs_pages.py                   # runs each quick preset, one at a time
    python scripts/make_docs_pages.py --runs DIR        # reads DIR/<name>/ instead of running
    python scripts/make_docs_pages.py --only mog sde    # these experiments (and the overview)

A folder for `--runs` is what `ganflow run NAME --quick --out DIR/NAME` writes. The pages are
committed; `mkdocs build --strict` then checks every link and figure of them.
"""

import argparse
import dataclasses
import inspect
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ganflow.studies import config_to_toml, experiments

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "experiments"
COMPOSITE = {"suite"}
"""Studies that run other experiments (their page links those experiments' pages instead of
repeating their results)."""
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)\)")


def _description(config: type) -> str:
    """The prose of a config's docstring (without its `- `field`: …` lines, which
    `ganflow show` prints beside each key)."""
    doc = inspect.cleandoc(config.__doc__ or "")
    kept = [line for line in doc.splitlines() if not line.startswith("- `")]
    return "\n".join(kept).strip()


def _presets(exp) -> str:
    rows = ["| preset | sets |", "|---|---|"]
    for name, overrides in exp.presets.items():
        sets = ", ".join(f"`{k} = {json.dumps(list(v) if isinstance(v, tuple) else v)}`"
                         for k, v in overrides.items())
        rows.append(f"| `{name}` | {sets or '(the defaults)'} |")
    return "\n".join(rows)


def _report_body(report: str) -> str:
    """The report without its title and its `Reproduces:` line (the page has both), headings
    one level down (the page's sections are `##`)."""
    lines = report.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    paragraphs = "\n".join(lines).strip().split("\n\n")
    if paragraphs and paragraphs[0].startswith("Reproduces:"):
        paragraphs = paragraphs[1:]
    out, fenced = [], False
    for line in "\n\n".join(paragraphs).splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        out.append("#" + line if not fenced and re.match(r"#+ ", line) else line)
    return "\n".join(out)


def _copy_figures(body: str, run: Path, page: Path) -> str:
    """Copies every image the report links into the page's folder (same relative path) and
    turns links to other run files (results.zarr, config.toml) into code spans."""

    def image(match: re.Match) -> str:
        alt, target = match.groups()
        source = (run / target).resolve()
        if not source.is_file():
            raise SystemExit(f"{run / 'report.md'} links {target}, which is not in {run}")
        try:
            rel = source.relative_to(run.resolve())
        except ValueError:
            rel = Path(source.name)  # a link outside the run folder: kept beside the page
        (page / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, page / rel)
        return f"![{alt}]({rel.as_posix()})"

    def link(match: re.Match) -> str:
        text, target = match.groups()
        if re.match(r"[a-z]+://", target) or target.startswith("#"):
            return match.group(0)
        return f"{text} (`{target}`)" if text != target else f"`{target}`"

    return _LINK.sub(link, _IMAGE.sub(image, body))


def _escape_brackets(body: str) -> str:
    """Brackets outside code, maths, links and images escaped (a report's `[[0, 1] [-1, 0]]` is
    text, not a reference link for the site's cross-references)."""
    out, fenced = [], False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            out.append(line)
            continue
        if fenced:
            out.append(line)
            continue
        parts = re.split(r"(`[^`]*`|\$[^$]+\$|!?\[[^\]]*\]\([^)\s]+\))", line)
        out.append("".join(part if i % 2 else part.replace("[", "\\[").replace("]", "\\]")
                           for i, part in enumerate(parts)))
    return "\n".join(out)


def write_page(exp, run: Path | None, registry) -> None:
    """Writes `docs/experiments/<name>/index.md` (and its figures) from the registry entry and
    the run folder `run` (None for a composite study)."""
    page = PAGES / exp.name
    if page.exists():
        shutil.rmtree(page)
    page.mkdir(parents=True)
    default = exp.preset("default")
    presets = [p for p in exp.presets if p != "quick"]
    edit = (f"ganflow run {exp.name}.toml --set seeds=16 --out runs/{exp.name}"
            if any(f.name == "seeds" for f in dataclasses.fields(default))
            else f"ganflow run {exp.name}.toml --out runs/{exp.name}")
    commands = [(f"ganflow run {exp.name} --quick", f"about {exp.quick_runtime}"),
                (f"ganflow run {exp.name}", f"the defaults: {exp.full_runtime}"),
                *((f"ganflow run {exp.name} --preset {p}", "") for p in presets),
                (f"ganflow show {exp.name} > {exp.name}.toml", "the config, ready to edit"),
                (edit, "")]
    width = max(len(c) for c, _ in commands) + 2
    runs = [f"{c:<{width}}# {note}" if note else c for c, note in commands]
    text = [f"# {exp.name}", "",
            f"**Reproduces:** {exp.reproduces}", "",
            _description(exp.config), "",
            "## Run it", "", "```bash", *runs, "```", "",
            "Every run writes a folder with `config.toml`, `results.zarr`, `report.md` and the "
            "figures (see [the command](../../command.md)).", "",
            "## Presets", "", _presets(exp), "",
            "## Configuration", "",
            f"The defaults, as `ganflow show {exp.name}` prints them (one documented key a "
            "line; `--set key=value` or a TOML file changes them):", "",
            "```toml", config_to_toml(exp, default).rstrip(), "```", ""]
    if run is None:
        names = [n for n in getattr(default, "experiments", ()) if n in registry]
        text += ["## Results", "",
                 "Each experiment writes its own folder, report and figures; their results are "
                 "on their pages: " + ", ".join(f"[{n}](../{n}/index.md)" for n in names) + ".",
                 ""]
    else:
        report = (run / "report.md").read_text(encoding="utf-8")
        body = _escape_brackets(_copy_figures(_report_body(report), run, page))
        text += ["## Results of the quick preset", "",
                 f"The report of `ganflow run {exp.name} --quick` (its tables, figures and "
                 "provenance as written):", "", body, ""]
    (page / "index.md").write_text("\n".join(text).rstrip() + "\n", encoding="utf-8")


def write_overview(registry) -> None:
    rows = ["| experiment | reproduces | quick run |", "|---|---|---|"]
    for name, exp in registry.items():
        reproduces = exp.reproduces.replace("|", "\\|")
        rows.append(f"| [{name}]({name}/index.md) | {reproduces} | {exp.quick_runtime} |")
    text = ["# Experiments", "",
            "Every experiment is a study registered with `ganflow.studies`: a typed config "
            "with documented defaults, presets, a run over the ensemble engine and a report "
            "rewritten from the saved results. `ganflow list` names them; each page below says "
            "what it reproduces, how to run it, and shows the report of its quick preset "
            "(tables, figures, provenance).", "", *rows, ""]
    (PAGES / "index.md").write_text("\n".join(text), encoding="utf-8")


def quick_run(name: str, out: Path) -> Path:
    """`ganflow run NAME --quick --out OUT/NAME` in a fresh process; its folder."""
    folder = out / name
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ganflow", "run", name, "--quick", "--out",
                           str(folder), "--overwrite", "--no-progress"],
                          cwd=out, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{name}: the quick run failed:\n{done.stderr[-3000:]}", file=sys.stderr)
        raise subprocess.CalledProcessError(done.returncode, done.args)
    print(f"{name}: quick run {time.perf_counter() - start:.0f} s", flush=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, help="read DIR/<name>/ instead of running")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these experiments only")
    args = parser.parse_args(argv)
    registry = experiments()
    names = args.only or list(registry)
    unknown = sorted(set(names) - set(registry))
    if unknown:
        parser.error(f"unknown experiment(s) {', '.join(unknown)}; known: {', '.join(registry)}")
    PAGES.mkdir(parents=True, exist_ok=True)
    failed = []
    with tempfile.TemporaryDirectory(prefix="ganflow-docs-") as tmp:
        for name in names:
            exp = registry[name]
            if name in COMPOSITE:
                run = None
            elif args.runs is not None:
                run = args.runs / name
                if not (run / "report.md").is_file():
                    parser.error(f"{run} holds no report.md: run `ganflow run {name} --quick "
                                 f"--out {run}` first")
            else:
                try:
                    run = quick_run(name, Path(tmp))
                except subprocess.CalledProcessError:
                    failed.append(name)  # its page stays as it was
                    continue
            write_page(exp, run, registry)
            print(f"wrote {(PAGES / name / 'index.md').relative_to(ROOT)}", flush=True)
    write_overview(registry)
    if failed:
        print(f"the quick runs of {', '.join(failed)} failed; their pages are unchanged",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
