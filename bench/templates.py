"""Reading an ARM template with copy loops at Azure's limits, against the same NSG unrolled (the baseline).

    python bench/templates.py [--rules 1000] [--repeat 5]

One NSG with ``--rules`` security rules (Azure's limit is 1,000), each rule's priority, port and name computed
from ``copyIndex()``, written three ways: a property ``copy`` loop building ``securityRules`` (what templates and
Bicep's ``for`` emit; ARM allows at most 800 items per loop, so the rules past 800 are child resources), resource
``copy`` loops of ``networkSecurityGroups/securityRules`` child resources (merged into their NSG by the loader),
and the equivalent unrolled template with every rule written out (the baseline: no loop, the same expressions
evaluated once per rule). Each is loaded (parameters, expressions, model, validation)
``--repeat`` times; the best time and its ratio to the unrolled template are printed. The goal: the property loop
in at most 0.5 s for 1,000 rules.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from opennsg.arm import load_documents

GOAL_SECONDS = 0.5
MAX_COPY = 800  # ARM: a copy loop makes at most 800 items
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
PARAMETERS = {
    "nsgName": {"type": "string", "defaultValue": "bench-nsg"},
    "firstPriority": {"type": "int", "defaultValue": 100},
    "sources": {"type": "array", "defaultValue": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]},
}


def rule_properties(index: str) -> dict[str, Any]:
    """One rule's properties; ``index`` is the expression giving its position (copyIndex or a literal)."""
    return {
        "priority": f"[add(parameters('firstPriority'), {index})]",
        "direction": f"[if(equals(mod({index}, 2), 0), 'Inbound', 'Outbound')]",
        "access": "Allow",
        "protocol": "Tcp",
        "sourcePortRange": "*",
        "destinationPortRange": f"[string(add(1000, {index}))]",
        "sourceAddressPrefixes": "[parameters('sources')]",
        "destinationAddressPrefix": f"[format('10.{{0}}.{{1}}.0/24', div({index}, 250), mod({index}, 250))]",
    }


def template(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "parameters": PARAMETERS, "resources": resources}


def nsg(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Microsoft.Network/networkSecurityGroups",
        "apiVersion": "2023-09-01",
        "name": "[parameters('nsgName')]",
        "location": "[resourceGroup().location]",
        "properties": properties,
    }


def child_rules(loop: str, count: int, offset: int) -> dict[str, Any]:
    """``count`` rules as ``networkSecurityGroups/securityRules`` resources, numbered from ``offset``."""
    index = f"add(copyIndex(), {offset})"
    return {
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "apiVersion": "2023-09-01",
        "name": f"[format('{{0}}/rule-{{1}}', parameters('nsgName'), {index})]",
        "copy": {"name": loop, "count": count},
        "dependsOn": ["[resourceId('Microsoft.Network/networkSecurityGroups', parameters('nsgName'))]"],
        "properties": rule_properties(index),
    }


def property_loop(count: int) -> dict[str, Any]:
    """The NSG's ``securityRules`` by a property loop; past ARM's 800 per loop, the rest as child resources."""
    looped = min(count, MAX_COPY)
    rule = {
        "name": "[format('rule-{0}', copyIndex('securityRules'))]",
        "properties": rule_properties("copyIndex('securityRules')"),
    }
    resources = [nsg({"copy": [{"name": "securityRules", "count": looped, "input": rule}]})]
    if count > looped:
        resources.append(child_rules("rest", count - looped, looped))
    return template(resources)


def resource_loop(count: int) -> dict[str, Any]:
    """Every rule a child resource, by resource copy loops of at most 800."""
    loops = [child_rules(f"rules{k}", min(MAX_COPY, count - k), k) for k in range(0, count, MAX_COPY)]
    return template([nsg({"securityRules": []}), *loops])


def unrolled(count: int) -> dict[str, Any]:
    rules = [{"name": f"rule-{i}", "properties": rule_properties(str(i))} for i in range(count)]
    return template([nsg({"securityRules": rules})])


def best_seconds(document: dict[str, Any], repeat: int, count: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        topology = load_documents([("bench.json", document)])
        elapsed = time.perf_counter() - started
        rules = sum(len(n.security_rules) for n in topology.nsgs.values())
        if rules != count:
            raise SystemExit(f"expected {count} rules, read {rules}")
        best = min(best, elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    shapes = {
        "unrolled (baseline)": unrolled(args.rules),
        "property copy loop": property_loop(args.rules),
        "resource copy loop (child rules)": resource_loop(args.rules),
    }
    figures = {name: best_seconds(doc, args.repeat, args.rules) for name, doc in shapes.items()}
    baseline = figures["unrolled (baseline)"]
    if args.json:
        print(json.dumps({"rules": args.rules, "seconds": figures, "goal_seconds": GOAL_SECONDS}, indent=2))
        return
    print(f"{args.rules} rules in one NSG, best of {args.repeat} loads (parse, evaluate, model, validate):")
    for name, seconds in figures.items():
        print(f"  {name:34s} {seconds:7.3f} s  x{seconds / baseline:5.2f} of unrolled")
    verdict = "meets" if figures["property copy loop"] <= GOAL_SECONDS else "MISSES"
    print(f"property copy loop {verdict} the goal of {GOAL_SECONDS} s")


if __name__ == "__main__":
    main()
