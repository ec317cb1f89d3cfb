"""Moving a library to another model: generations on disk, the move's state, the runner that
re-embeds every video into a new generation, and the atomic swap."""
