"""Config and layout files: models, YAML loading with file:line errors, JSON Schema."""
