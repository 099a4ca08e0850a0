"""Redis: clients per topology, key names, the Lua policy, the cache and the journal."""
