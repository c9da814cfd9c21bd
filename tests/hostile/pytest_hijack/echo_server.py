"""Hostile: the program does nothing; the files beside it try to hijack the grader."""
print("hijack: the program itself does nothing", flush=True)
