"""Synthetic postoperative spine CTs with exact ground truth (``vfnode phantom``)."""
