"""What a sweep shows when it ends: the report's results table (the numbers of the report and the
README, pooled over folds as the papers compute them) and the report itself."""

from __future__ import annotations

from pathlib import Path

from .definition import SweepConfig
from .settings import RunSettings


def print_results(sweep: SweepConfig, settings: RunSettings, tracking_uri: str, parent_run_id: str, *,
                  write_report: bool) -> None:
    """Print the results table (and the cross-corpus one) and, when the sweep is complete, write
    the report to ``report_dir/<name>`` and into the parent run."""
    from sertext import aggregate, report, tracking

    try:
        tables = aggregate.summarise_sweep(tracking_uri, sweep.name)
    except ValueError as error:  # e.g. no finished run to aggregate: the sweep's own result stands
        print(f"no results table: {error}")
        return
    print(f"test results per model. {report.results_note(tables)}")
    print(report.results_table(tables).to_string(index=False))
    if len(tables.cross_summary):
        print(f"\ncross-corpus (each fold's model {report.cross_note(tables)}):")
        print(report.results_table(tables, cross=True).to_string(index=False))
    if write_report and settings.report_dir:
        out = Path(settings.report_dir).expanduser().resolve() / sweep.name
        path = report.write_report(tables, out)
        tracking.log_folder(tracking_uri, parent_run_id, out, "report")
        print(f"\nreport: {path.with_suffix('.html')} (also under 'report' in the sweep's parent run)")
