"""Configuration: the agent config file, device profiles, and the YAML reader both use."""
