"""The default install holds together under the licence nightcast declares (licence-policy.toml)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, distribution, metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from helpers import ROOT

POLICY = tomllib.loads((ROOT / "licence-policy.toml").read_text())


def default_install() -> dict[str, str]:
    """Every distribution `pip install nightcast` brings (no extras), by canonical name → its name."""
    seen: dict[str, str] = {}
    queue = ["nightcast"]
    while queue:
        name = canonicalize_name(queue.pop())
        if name in seen:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # a marker-gated dependency this platform does not need
        seen[name] = dist.metadata["Name"]
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                queue.append(requirement.name)
    return seen


def declared(name: str) -> str:
    """The distribution's licence as an SPDX-like expression: the policy's override, else its
    License-Expression, else its License field or classifiers read through the policy's aliases."""
    canonical = canonicalize_name(name)
    if canonical in POLICY["overrides"]:
        return POLICY["overrides"][canonical]
    meta = metadata(name)
    if meta.get("License-Expression"):
        return meta["License-Expression"]
    aliases = POLICY["aliases"]
    text = (meta.get("License") or "").strip()
    if text in aliases:
        return aliases[text]
    known = {*POLICY["permissive"], *POLICY["weak_copyleft"], *POLICY["strong_copyleft"]}
    if text and all(word in known or word in ("AND", "OR") for word in re.sub(r"[()]", " ", text).split()):
        return text  # an SPDX expression in the old field
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return " OR ".join(aliases.get(c, c) for c in classifiers) or "UNKNOWN"  # several classifiers: a choice


def allowed_under(project: str) -> set[str]:
    ok = set(POLICY["permissive"]) | set(POLICY["weak_copyleft"])
    return ok | set(POLICY["strong_copyleft"]) if project.startswith("GPL-3.0") else ok


def permits(expression: str, allowed: set[str]) -> bool:
    """`A AND B` needs both; `A OR B` (the licensee's choice) needs one; parentheses group."""
    expression = expression.strip()
    if expression.startswith("(") and expression.endswith(")"):
        expression = expression[1:-1]
    depth, parts, current, operator = 0, [], "", None
    for token in re.split(r"(\(|\)|\s+AND\s+|\s+OR\s+)", expression):
        depth += token == "("
        depth -= token == ")"
        if depth == 0 and token.strip() in ("AND", "OR"):
            operator = operator or token.strip()
            parts.append(current)
            current = ""
        else:
            current += token
    parts.append(current)
    if len(parts) == 1:
        return parts[0].strip() in allowed
    results = [permits(part, allowed) for part in parts]
    return all(results) if operator == "AND" else any(results)


def refused(project: str) -> dict[str, str]:
    allowed = allowed_under(project)
    return {name: declared(name) for name in default_install().values()
            if name != "nightcast" and not permits(declared(name), allowed)}


def test_nightcast_declares_the_policy_licence():
    assert metadata("nightcast")["License-Expression"] == POLICY["project"]
    assert f'license = "{POLICY["project"]}"' in (ROOT / "pyproject.toml").read_text()


def test_every_distribution_of_the_default_install_is_allowed():
    install = default_install()
    assert {"prefect", "pydantic", "hibari-tts", "faster-whisper"} <= set(install)  # the closure is real
    assert "piper-tts" not in install and "torch" not in install  # extras stay out
    assert refused(POLICY["project"]) == {}


def test_what_keeps_the_default_install_from_a_permissive_licence():
    """Under Apache-2.0 exactly the GPL libraries of the speech chain and the tagger are refused: when
    they are replaced, this test says the project may go back to a permissive licence."""
    assert set(refused("Apache-2.0")) == {"pedalboard", "mutagen"}


@pytest.mark.parametrize("expression, allowed", [
    ("MIT", True), ("GPL-3.0-only", False), ("MIT OR GPL-3.0-only", True), ("MIT AND GPL-3.0-only", False),
    ("MPL-2.0 AND (Apache-2.0 OR MIT)", True), ("CC-BY-NC-4.0", False), ("UNKNOWN", False),
])
def test_expressions_under_a_permissive_project(expression, allowed):
    assert permits(expression, allowed_under("Apache-2.0")) is allowed
