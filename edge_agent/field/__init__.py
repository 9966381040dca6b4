"""Field tools: provisioning, imports, scanning, credentials and insights (what the CLI drives)."""
