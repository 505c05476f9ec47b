"""Audit: independent verification of the store against the chain, reports, evidence, EPCIS."""
