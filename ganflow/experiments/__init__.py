"""Experiments: the convergence atlas and the main job `ganflow` (its configuration, sections
and report)."""

from ._atlas import Atlas as Atlas, convergence_atlas as convergence_atlas
from ._cli import (
    build_parser as build_parser,
    main as main,
    parse_config as parse_config,
    run as run,
)
from ._config import RunConfig as RunConfig
from ._report import (
    Report as Report,
    SectionResult as SectionResult,
    markdown_table as markdown_table,
)
from ._sections import SECTIONS as SECTIONS, Section as Section
