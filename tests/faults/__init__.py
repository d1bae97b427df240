"""Fault injection into the AWS calls of the Lambda handlers on the local stack (issue 16, section 5)."""
