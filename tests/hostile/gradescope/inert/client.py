"""Does nothing: the score an attack must not be able to change (graded as 01-tcp-client)."""
