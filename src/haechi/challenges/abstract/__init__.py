"""The "abstract" challenge: a 3×3 grid of procedural abstract images chosen by an emotion word.

``generate`` draws the images, ``label`` serves the emotion CNN that labels them, ``items`` keeps
the images the CNN agrees with and composes challenges from them, ``sheet`` renders examples.
"""
