"""Connectors to chat products: one package per product, each with its webhook in and its API out."""
