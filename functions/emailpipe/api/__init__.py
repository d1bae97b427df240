"""The authenticated HTTP API: handler, one router per resource under routes/, problem+json errors."""

from emailpipe.api import lean_imports

lean_imports.install()
