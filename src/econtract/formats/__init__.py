"""One date format per language (FORMAT_MODULE_PATH): every page writes times with DATETIME_FORMAT.

The short variants are the same on purpose, so a template that asks for either shows one style.
"""
