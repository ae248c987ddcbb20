"""lead package."""
