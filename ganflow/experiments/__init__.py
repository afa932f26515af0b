"""Experiments: the main job `ganflow` (its configuration, sections and report)."""

from ._cli import build_parser as build_parser
from ._cli import main as main
from ._cli import parse_config as parse_config
from ._cli import run as run
from ._config import RunConfig as RunConfig
from ._report import Report as Report
from ._report import SectionResult as SectionResult
from ._report import markdown_table as markdown_table
from ._sections import SECTIONS as SECTIONS
from ._sections import Section as Section
