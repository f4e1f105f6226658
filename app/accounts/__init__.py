"""Linking utility-billing accounts to a resident, and the resident's Account Settings."""
