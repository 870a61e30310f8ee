"""The command line: one module per command; a command parses, calls the library, reports."""
