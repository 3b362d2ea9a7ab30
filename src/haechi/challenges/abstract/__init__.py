"""The "abstract" challenge: a 3×3 grid of procedural abstract images chosen by an emotion word.

``generate`` draws the images (the strokes of each emotion live in ``motifs``) and encodes them,
``label`` serves the emotion CNN that labels them, ``items`` keeps the images the CNN agrees with
and composes challenges from them, and ``sheet`` renders examples for people to judge.
"""
