#!/usr/bin/env python3
"""Prints the public headers (relative to include/), one a line, for the standalone check."""
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent / "include"
for h in sorted(root.rglob("*.hpp")):
    rel = h.relative_to(root).as_posix()
    if "/detail/" in rel or "/impl/" in rel or rel.endswith("src.hpp"):
        continue
    print(rel)
