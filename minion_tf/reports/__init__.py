"""Reports rebuilt from run.json files only: tables (Markdown + CSV), task reports, figures."""
