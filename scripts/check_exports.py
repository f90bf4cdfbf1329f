#!/usr/bin/env python3
"""Checks wavetrace's STIX and MISP exports with the official tools.

    check_exports.py stix FILE   validates a STIX 2.1 bundle with the OASIS
                                 stix2-validator; warnings are printed and
                                 allowed, any error fails.
    check_exports.py misp DIR    loads every *.json event with PyMISP and
                                 checks each object against PyMISP's bundled
                                 misp-objects template (template, uuid,
                                 version, relations and their types,
                                 categories, required/requiredOneOf,
                                 multiple) and the event against MISP's
                                 lax JSON schema.

Exits 1 listing every problem; on success prints one line of counts.
Run with a Python that has pymisp and stix2-validator installed.
"""

import collections
import copy
import json
import sys
import warnings
from pathlib import Path


def check_stix(path):
    from stix2validator import ValidationOptions, print_results, validate_file

    results = validate_file(str(path), ValidationOptions(version="2.1"))
    print_results(results)
    if not results.is_valid:
        errors = sum(len(o.errors) for o in results.object_results)
        print(f"FAIL: {errors} error(s) in {path}")
        return 1
    with open(path, encoding="utf-8") as f:
        bundle = json.load(f)
    counts = collections.Counter(o.get("type") for o in bundle.get("objects", []))
    warned = sum(len(o.warnings or []) for o in results.object_results)
    summary = ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
    print(f"OK: {path}: {sum(counts.values())} objects ({summary}); {warned} warning(s)")
    return 0


def misp_data():
    import pymisp

    root = Path(pymisp.__file__).parent / "data"
    with open(root / "describeTypes.json", encoding="utf-8") as f:
        types = json.load(f)["result"]
    with open(root / "schema-lax.json", encoding="utf-8") as f:
        schema = json.load(f)
    return root / "misp-objects" / "objects", types, schema


def check_object(obj, where, templates_dir, types, problems):
    name = obj.get("name", "")
    definition_path = templates_dir / name / "definition.json"
    if not name or not definition_path.is_file():
        problems.append(f"{where}: no misp-objects template named {name!r}")
        return
    with open(definition_path, encoding="utf-8") as f:
        template = json.load(f)
    if obj.get("template_uuid") != template["uuid"]:
        problems.append(
            f"{where}: template_uuid {obj.get('template_uuid')!r} != {template['uuid']!r}"
        )
    if str(obj.get("template_version")) != str(template["version"]):
        problems.append(
            f"{where}: template_version {obj.get('template_version')!r} != {template['version']!r}"
        )
    if obj.get("meta-category") not in (None, template.get("meta-category")):
        problems.append(f"{where}: meta-category {obj.get('meta-category')!r}")
    relations = collections.Counter()
    attributes = obj.get("Attribute", [])
    if not attributes:
        problems.append(f"{where}: no attributes")
    for i, a in enumerate(attributes):
        at = f"{where} attribute {i} ({a.get('object_relation')!r})"
        relation = a.get("object_relation")
        spec = template["attributes"].get(relation)
        if spec is None:
            problems.append(f"{at}: relation not in template {name}")
            continue
        relations[relation] += 1
        if a.get("type") != spec["misp-attribute"]:
            problems.append(f"{at}: type {a.get('type')!r}, template says {spec['misp-attribute']!r}")
        check_attribute(a, at, types, problems, spec.get("categories"))
    for relation, n in relations.items():
        if n > 1 and not template["attributes"][relation].get("multiple"):
            problems.append(f"{where}: {relation} {n} times, template does not allow multiple")
    missing = set(template.get("required", [])) - set(relations)
    if missing:
        problems.append(f"{where}: required {sorted(missing)} missing")
    one_of = template.get("requiredOneOf")
    if one_of and not set(one_of) & set(relations):
        problems.append(f"{where}: none of requiredOneOf {one_of}")


def check_attribute(a, at, types, problems, template_categories=None):
    t = a.get("type")
    if t not in types["types"]:
        problems.append(f"{at}: unknown MISP type {t!r}")
        return
    category = a.get("category")
    if t not in types["category_type_mappings"].get(category, []):
        problems.append(f"{at}: category {category!r} does not allow type {t!r}")
    if template_categories and category not in template_categories:
        problems.append(f"{at}: category {category!r} not among the template's {template_categories}")
    if not isinstance(a.get("to_ids"), bool):
        problems.append(f"{at}: to_ids is not a boolean")
    if not isinstance(a.get("value"), str) or a.get("value") == "":
        problems.append(f"{at}: empty or non-string value")


def check_misp(directory):
    import jsonschema
    from pymisp import MISPEvent

    templates_dir, types, schema = misp_data()
    problems = []
    files = sorted(Path(directory).glob("*.json"))
    if not files:
        print(f"FAIL: no *.json in {directory}")
        return 1
    objects = attributes = 0
    uuids = collections.Counter()
    for path in files:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        for error in jsonschema.Draft4Validator(schema).iter_errors(raw):
            problems.append(f"{path.name}: schema: {'/'.join(map(str, error.path))}: {error.message}")
        event = MISPEvent()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", UserWarning)
                # PyMISP pops keys from what it loads: give it a copy.
                event.load(copy.deepcopy(raw), validate=True)
        except Exception as e:  # PyMISP raises many kinds
            problems.append(f"{path.name}: PyMISP cannot load it: {e}")
            continue
        ev = raw.get("Event", {})
        for key in ("uuid", "info", "date", "threat_level_id", "analysis", "distribution", "timestamp"):
            if not ev.get(key):
                problems.append(f"{path.name}: Event.{key} missing")
        if ev.get("threat_level_id") not in ("1", "2", "3", "4"):
            problems.append(f"{path.name}: threat_level_id {ev.get('threat_level_id')!r}")
        if ev.get("analysis") not in ("0", "1", "2"):
            problems.append(f"{path.name}: analysis {ev.get('analysis')!r}")
        if ev.get("distribution") not in ("0", "1", "2", "3", "4"):
            problems.append(f"{path.name}: distribution {ev.get('distribution')!r}")
        if not any(t.get("name", "").startswith("tlp:") for t in ev.get("Tag", [])):
            problems.append(f"{path.name}: no tlp: tag")
        uuids[ev.get("uuid")] += 1
        for i, a in enumerate(ev.get("Attribute", [])):
            check_attribute(a, f"{path.name} event attribute {i}", types, problems)
            uuids[a.get("uuid")] += 1
            attributes += 1
        for i, obj in enumerate(ev.get("Object", [])):
            where = f"{path.name} object {i} ({obj.get('name')!r})"
            check_object(obj, where, templates_dir, types, problems)
            uuids[obj.get("uuid")] += 1
            objects += 1
            for a in obj.get("Attribute", []):
                uuids[a.get("uuid")] += 1
                attributes += 1
        # PyMISP's own template check of every object it loaded.
        for obj in event.objects:
            try:
                obj._validate()
            except Exception as e:
                problems.append(f"{path.name}: PyMISP rejects object {obj.name}: {e}")
    for uuid, n in uuids.items():
        if n > 1:
            problems.append(f"uuid {uuid} used {n} times")
    if problems:
        for p in problems:
            print(p)
        print(f"FAIL: {len(problems)} problem(s)")
        return 1
    print(f"OK: {len(files)} events, {objects} objects, {attributes} attributes")
    return 0


def main(argv):
    if len(argv) != 3 or argv[1] not in ("stix", "misp"):
        print(__doc__)
        return 2
    if argv[1] == "stix":
        return check_stix(Path(argv[2]))
    return check_misp(Path(argv[2]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
