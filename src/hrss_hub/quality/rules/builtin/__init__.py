"""The built-in rules, one per module. The registry imports every module of this package and
registers each rule class defined in it: a new rule is a new file here (or, outside the hub,
an entry point of the ``hrss_hub.rules`` group)."""
