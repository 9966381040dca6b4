"""The landing database's migrations, applied in file-name order by `edge-agent fleet migrate`."""
