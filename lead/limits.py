"""Limits on a requirements file that a real file never meets, so bad input cannot exhaust
the lead.

Each limit has a name (the constant's), reported in the `lead.errors.LimitExceeded` raised
when a file goes past it. They bound memory and time: with them, reading a file takes time
and memory linear in its size, and no recursion goes deeper than `MAX_DEPTH` levels of data.
"""

from __future__ import annotations

#: bytes in the file
MAX_FILE_BYTES = 4 * 1024 * 1024
#: YAML nodes in one front matter or block: as written, and again with aliases expanded
#: (an alias to a mapping of 10 items produces 11 nodes each time it is used)
MAX_YAML_NODES = 100_000
#: levels of nesting of lists and mappings, in the YAML and in a value after substitution
MAX_DEPTH = 64
#: characters of one string after ``${...}`` substitution
MAX_VALUE_CHARS = 1_000_000
#: characters (strings, keys, and one per other value) of all substituted settings, defaults
#: and tags of the file together
MAX_DOCUMENT_CHARS = 10_000_000
#: variables whose values use variables, one inside the other
MAX_VARIABLE_NESTING = 32
#: jobs in the file
MAX_JOBS = 500
#: digits of an integer (the Jobs API takes 64-bit integers; this stops huge ones early)
MAX_INT_CHARS = 100
