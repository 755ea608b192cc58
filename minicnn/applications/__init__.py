"""minicnn.applications: a well-known pretrained network, run in the engine you can read.

    from minicnn.applications import ResNet50, preprocess_input, decode_predictions
    model = ResNet50(weights="imagenet")             # Keras' ImageNet weights (needs h5py)
    probs = model.predict(preprocess_input(images))  # images: (N, 224, 224, 3) RGB 0..255
    decode_predictions(probs, top=3)

One idea per file:
- ``resnet50``: the graph of Keras' ResNet50, with Keras' layer names
- ``keras_h5``: reading a Keras ``.h5`` weight file into a model, by layer name
- ``imagenet``: ``preprocess_input`` (Keras' "caffe" mode) and ``decode_predictions``
- ``files``:    the weight and class-index files, cached and verified like the datasets
"""
from .imagenet import IMAGENET_MEAN_BGR, decode_predictions, imagenet_class_index, preprocess_input
from .keras_h5 import WeightFileError, load_keras_h5, read_keras_h5
from .resnet50 import ResNet50, imagenet_weights_path

__all__ = ["ResNet50", "imagenet_weights_path", "preprocess_input", "decode_predictions",
           "imagenet_class_index", "IMAGENET_MEAN_BGR", "load_keras_h5", "read_keras_h5", "WeightFileError"]
