"""junit.xml: one test case per check, so CI test reports list every limit with its result.

A failed check is a <failure>, a check that could not be evaluated is <skipped>, and an
"error" verdict adds a "run / verdict" case with an <error> per reason, so a CI report
never looks green for a run that had nothing to judge.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.verdict.model import Verdict
from harness.verdict.outputs.verdict_json import utc_text


def render(verdict: Verdict) -> bytes:
    m = verdict.measurements
    check_messages = {c.message for c in verdict.checks}
    errors = [r for r in verdict.reasons if r not in check_messages] if verdict.verdict == "error" else []
    failures = sum(c.passed is False for c in verdict.checks)
    skipped = sum(c.passed is None for c in verdict.checks)
    tests = len(verdict.checks) + (1 if errors else 0)
    counts = {
        "tests": str(tests),
        "failures": str(failures),
        "errors": str(1 if errors else 0),
        "skipped": str(skipped),
        "time": f"{m.duration_s:.3f}",
    }

    root = ET.Element("testsuites", {"name": "load test", **counts})
    suite = ET.SubElement(
        root, "testsuite", {"name": f"load test {verdict.run_id}", "timestamp": utc_text(m.start), **counts}
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in [
        ("run_id", verdict.run_id),
        ("test_env", m.test_env),
        ("verdict", verdict.verdict),
        ("exit_code", str(int(verdict.exit_code))),
        ("baseline_run_id", verdict.baseline_run_id or ""),
    ]:
        ET.SubElement(properties, "property", name=name, value=value)

    for check in verdict.checks:
        case = ET.SubElement(suite, "testcase", classname=check.scope, name=check.metric, time="0")
        if check.passed is False:
            ET.SubElement(case, "failure", message=check.message, type=check.kind).text = check.message
        elif check.passed is None:
            ET.SubElement(case, "skipped", message=check.message)
    if errors:
        case = ET.SubElement(suite, "testcase", classname="run", name="verdict", time="0")
        ET.SubElement(case, "error", message=errors[0], type="error").text = "\n".join(errors)
    if verdict.warnings:
        ET.SubElement(suite, "system-out").text = "\n".join(f"warning: {w}" for w in verdict.warnings)

    ET.indent(root)
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml + b"\n"
