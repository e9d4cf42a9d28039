"""Dataset and manifest formats: Ground Truth, DDA, COCO, YOLO, synthetic data."""
