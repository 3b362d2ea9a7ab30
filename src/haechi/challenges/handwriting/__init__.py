"""The handwriting challenge: a picture prompt, the visitor writes its Korean name on a canvas.

``lexicon`` holds the words and pictures, ``prompt`` draws the picture prompts a pool serves,
``ink`` validates and renders the strokes a visitor sends, ``recognise`` serves the CRNN and
scores lexicon words against it, ``skeleton`` turns font-rendered words into strokes (training,
tests, the red team), and ``challenge`` is the type itself.
"""
