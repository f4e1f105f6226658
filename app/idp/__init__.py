"""Keycloak realm as code: render, validate, plan and apply ``idp_config/``."""
