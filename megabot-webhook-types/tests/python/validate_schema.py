"""Validates documents against a JSON Schema (2020-12) with the `jsonschema` package,
independently of the Rust parser: `validate_schema.py SCHEMA CORPUS` where CORPUS is a
JSON array of document texts. Prints a JSON array with one `{"valid", "error"}` per
document."""

import json
import sys

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    with open(sys.argv[2], encoding="utf-8") as f:
        documents = json.load(f)
    results = []
    for text in documents:
        try:
            instance = json.loads(text)
        except ValueError as error:
            results.append({"valid": False, "error": f"not JSON: {error}"})
            continue
        error = best_match(validator.iter_errors(instance))
        results.append(
            {"valid": error is None, "error": None if error is None else error.message[:300]}
        )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
