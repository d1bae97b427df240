"""Mailbox ingress: poll an existing IMAP or POP3 mailbox into the inbound pipeline."""
