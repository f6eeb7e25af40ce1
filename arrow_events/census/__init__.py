"""Census intake: a census file or Arrow object in (sources), each cell read exactly (values),
the row rules checked (intake), and the built-in synthetic census."""
