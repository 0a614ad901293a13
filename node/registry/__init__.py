"""The case registry (SQLAlchemy): every analysed series, its results and clinical data."""
