"""The contract archive: signed contracts with their files, amendments, classification, search and lifecycle."""
