"""The directory's objects: one writer, configuration documents, CSV, contacts."""
