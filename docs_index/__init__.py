"""docs_index package."""
