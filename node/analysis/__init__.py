"""Pure analysis: CT volume in, measurements of each treated vertebra out.

Steps (each testable alone): ``volume`` (series to HU volume), ``select`` (which series),
``segment`` (bodies, cement, leaks), ``measure``/``score`` (numbers), ``pipeline``.
"""
