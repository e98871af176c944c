"""API plumbing shared by every app: error shapes for the schema, throttles, the JSON parser."""
