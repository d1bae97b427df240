"""The authenticated HTTP API: handler, one router per resource under routes/, problem+json errors."""
