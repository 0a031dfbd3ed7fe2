"""The model: training (TensorFlow, only in train.py), the numpy cell, sampling."""
