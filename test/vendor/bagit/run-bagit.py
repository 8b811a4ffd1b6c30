"""Runs the vendored bagit.py as its command line (`bagit.py --validate BAG`).

bagit.py reads its own version with importlib.metadata, which fails for a copied file that was
never pip-installed; this supplies a version string for the name "bagit" and changes nothing else.
"""
import importlib.metadata
import os
import runpy
import sys

_version = importlib.metadata.version
importlib.metadata.version = lambda name: "vendored" if name == "bagit" else _version(name)
sys.argv[0] = "bagit.py"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "bagit.py"), run_name="__main__")
