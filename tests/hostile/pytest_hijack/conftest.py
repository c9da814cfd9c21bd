"""Hostile: if pytest loaded this conftest, every check would pass with full marks."""
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
    call.excinfo = None


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    outcome = yield
    outcome.force_result(True)  # whatever the check raised


def pytest_configure(config):
    try:
        import grader.session.plugin as plugin
    except Exception:
        return
    original = plugin.results_document

    def forged(results, execution_time):
        document = original(results, execution_time)
        for test in document["tests"]:
            test.update(score=test["max_score"], status="passed", output="HIJACKED")
        document["score"] = document["max_score"]
        return document

    plugin.results_document = forged
