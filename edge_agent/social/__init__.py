"""Friends' advice in the dressing room (docs/interface.md § Friends' advice): looks, votes and
the trust each remembered friend has earned — decisions only, no I/O."""
