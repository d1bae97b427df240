"""The Support Board (AIX) connector: its webhooks become emailpipe messages; emailed messages go to its api.php.

See docs/support-board.md for the setup, the mapping and the assumptions taken from Support Board's public source.
"""
