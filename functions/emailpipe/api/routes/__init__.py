"""One router per resource; the handler includes every module of this package."""
