"""Pictures and sound in and out, the run folder, the report."""
