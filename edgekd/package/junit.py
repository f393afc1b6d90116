"""Check results for CI: JUnit XML (one testcase per gate) and a Markdown table for ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from edgekd.budgets import fmt
from edgekd.fsutil import atomic_path


def write_junit(result: dict[str, Any], path: str | Path) -> Path:
    """Write ``check``'s ``result`` as JUnit XML: a failing gate is a ``<failure>`` with budget and measured value."""
    gates, counts = result["gates"], result["summary"]
    name = f"edgekd check {Path(result['model']).name} on {result['target']}"
    attrs = {"tests": str(len(gates)), "failures": str(counts["fail"]), "errors": "0", "skipped": str(counts["skip"])}
    suites = ET.Element("testsuites", {"name": "edgekd check", **attrs})
    suite = ET.SubElement(suites, "testsuite", {"name": name, **attrs, "time": "0"})
    for g in gates:
        case = ET.SubElement(suite, "testcase", {"classname": f"edgekd.check.{result['target']}", "name": g["name"],
                                                 "time": "0"})
        if g["status"] == "fail":
            failure = ET.SubElement(case, "failure", {"message": g["message"], "type": "budget"})
            failure.text = (f"budget {g['budget']} {g['unit']} ({g['source']}), measured "
                            f"{g['measured'] if g['measured'] is not None else 'nothing'}: {g['note']}")
        elif g["status"] == "skip":
            ET.SubElement(case, "skipped", {"message": g["message"]})
        else:
            ET.SubElement(case, "system-out").text = f"{g['message']} ({g['note']})" if g["note"] else g["message"]
    ET.indent(suites)
    with atomic_path(path) as tmp:
        ET.ElementTree(suites).write(tmp, encoding="utf-8", xml_declaration=True)
    return Path(path)


def markdown_summary(result: dict[str, Any]) -> str:
    """A Markdown section: verdict, then budget, measured value and result per gate."""
    verdict = "passed" if result["passed"] else "FAILED"
    how = "measured again on this machine" if result["reprofiled"] else "as recorded"
    lines = [f"### edgekd check {verdict}: `{result['model']}` on `{result['target']}`", "",
             f"Latency {how}. Gates: {result['summary']['pass']} passed, {result['summary']['fail']} failed, "
             f"{result['summary']['skip']} not measured.", "",
             "| gate | budget | measured | result |", "| --- | --- | --- | --- |"]
    for g in result["gates"]:
        got = fmt(g["measured"], g["unit"]) if g["measured"] is not None else "not measured"
        icon = {"pass": "✅ pass", "fail": "❌ fail", "skip": "⚪ skip"}[g["status"]]
        lines.append(f"| {g['name']} | {fmt(g['budget'], g['unit'])} | {got} | {icon} |")
    return "\n".join(lines) + "\n\n"
