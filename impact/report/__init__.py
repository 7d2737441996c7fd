"""Reports built from released (disclosure-checked) tables: one self-contained HTML file."""
from .html import ReportContext, render_report

__all__ = ["ReportContext", "render_report"]
