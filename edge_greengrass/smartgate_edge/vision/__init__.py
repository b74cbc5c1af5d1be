"""Lane vision: read licence plates, container codes and QR passes from camera frames on the lane CPU.

Needs the edge extras (opencv-python-headless, onnxruntime, numpy); nothing here is imported by the
cloud functions.
"""
