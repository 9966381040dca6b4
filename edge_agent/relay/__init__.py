"""The chain's reference relay for friends elsewhere (`edge-agent relay`, SPEC §16)."""
