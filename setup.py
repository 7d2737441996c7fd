"""Package list: every impact* package plus queries/ shipped as `impact._queries` (read by impact/sql.py).

setuptools' `packages.find` in pyproject.toml cannot discover a package mapped from another
folder, so the mapping of the top-level `queries/` folder lives here.
"""
from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["impact*"]), "impact._queries"],
    package_dir={"impact._queries": "queries"},
    package_data={"impact._queries": ["*.sql"]},
)
