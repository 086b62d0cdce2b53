"""The report: its schema, how it is built from the pipeline's results, rendered and written."""
