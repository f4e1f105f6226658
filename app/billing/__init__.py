"""Utility-billing data: the connector to the billing system of record and the bill pages."""
