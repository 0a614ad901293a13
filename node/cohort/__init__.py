"""The paper's cohort statistics and report (pure: tables in, tables and figures out)."""
