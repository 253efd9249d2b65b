"""Analysis of the testbed's results: parsers, statistics, figures, tables, report.

``python -m analysis stats FILE... --format F`` prints the paper's statistics of
any raw file; ``python -m analysis report RUN_DIR`` turns a results folder into
figures, tables and checked claims beside the paper's values (docs/analysis.md).
"""
