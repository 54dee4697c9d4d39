"""Users, groups, resources and the global address list."""
