"""The unified data standard: loading it, identifiers, normalizers and code lists.

Submodules: ``model`` (load the versioned YAML standard), ``check`` (validate it),
``docs`` (bilingual data dictionary), ``identifiers`` (GB 11643 / GB 32100 / GB 11714),
``normalize`` (vectorized cleaning of IDs, names, dates and amounts).
"""
