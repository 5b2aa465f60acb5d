"""Reports read from the evidence (JUnit files, or a run's own testcases): the run report and
drift, its text and Markdown rendering, the report command, and the sweep of leftovers."""
