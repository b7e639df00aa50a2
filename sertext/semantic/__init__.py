"""Semantic features from speech (Tzirakis et al.): Speech2Vec word-segment embeddings trained with
the skip-gram objective, and their alignment onto a Word2Vec space (an adversarial linear map
refined by Procrustes), so that evaluation reads speech alone."""
