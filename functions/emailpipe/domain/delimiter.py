"""The optional delimiter line on top of notifications; inbound text below it is cut."""

DELIMITER = "### Please type your reply above this line ###"
