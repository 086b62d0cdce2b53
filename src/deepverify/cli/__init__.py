"""The ``deepverify`` command line: one file per command, all calling the library."""
