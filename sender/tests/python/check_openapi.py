"""Checks an OpenAPI 3.1 document with `openapi-spec-validator`, then validates each
webhook's example body against its payload schema with `jsonschema` (2020-12):
`check_openapi.py DOCUMENT`. Exits non-zero with the reason when either fails."""

import json
import sys

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        document = json.load(f)
    validate(document)
    checked = 0
    for name, item in document["webhooks"].items():
        content = item["post"]["requestBody"]["content"]["application/json"]
        # The payload schema, resolved inside the document's components.
        schema = {"$ref": content["schema"]["$ref"], "components": document["components"]}
        Draft202012Validator(schema).validate(content["example"])
        checked += 1
    print(json.dumps({"valid": True, "examples": checked}))


if __name__ == "__main__":
    main()
