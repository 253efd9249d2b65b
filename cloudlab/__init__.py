"""Cloudlab back end: the geni-lib profile and the manifest-to-inventory generator."""
