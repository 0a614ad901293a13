"""Pure analysis: CT volume in, measurements of each treated vertebra out.

Steps (each testable alone): ``volume`` (series to int16 HU volume + affine), ``select``
(which series of a study), ``cement`` (cement and metal), ``flood``/``shellfill``/``bodies``
(vertebral bodies behind the ``BodySource`` protocol), ``leaks`` (extravertebral cement by
location), ``levels`` (names), ``measure``/``score``/``frame`` (numbers), ``pipeline``
(``analyze_series``: one series to the ``Analysis`` record).
"""
