"""Loads an sgan-gpu checkpoint into the Keras models of the reference and scores the test set.

Shows that the checkpoint's names, shapes and layouts are Keras's own: the accuracy printed here
must equal `sgan-gpu eval --checkpoint F` on the same data. Given the PNG that
`sgan-gpu sample --checkpoint F --count N --seed S` wrote, it also runs the checkpoint's
generator in Keras on the same noise and prints the largest grey-level difference (0 or 1:
the PNG rounds to 8 bits).

  python3 tools/keras_load.py CHECKPOINT [DATA_DIR] [SAMPLE_PNG N S]

Needs numpy and tensorflow (or keras 3 with any backend); reads safetensors without its package.
"""
import gzip, json, struct, sys
import numpy as np
import keras
from keras import layers

path = sys.argv[1]
data = sys.argv[2] if len(sys.argv) > 2 else "data/mnist"

with open(path, "rb") as f:
    raw = f.read()
header_len = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + header_len])
body = raw[8 + header_len:]
tensors = {}
for name, entry in header.items():
    if name == "__metadata__":
        continue
    start, end = entry["data_offsets"]
    tensors[name] = np.frombuffer(body[start:end], "<f4").reshape(entry["shape"])

trunk = keras.Sequential([
    keras.Input((28, 28, 1)),
    layers.Conv2D(32, 3, strides=2, padding="same", name="conv_1"), layers.LeakyReLU(0.01),
    layers.Conv2D(64, 3, strides=2, padding="same", name="conv_2"),
    layers.BatchNormalization(epsilon=1e-3, name="batch_norm_2"), layers.LeakyReLU(0.01),
    layers.Conv2D(128, 3, strides=2, padding="same", name="conv_3"),
    layers.BatchNormalization(epsilon=1e-3, name="batch_norm_3"), layers.LeakyReLU(0.01),
    layers.Dropout(0.5), layers.Flatten(), layers.Dense(10, name="dense")])
for layer in trunk.layers:
    prefix = f"discriminator.{layer.name}"
    if isinstance(layer, layers.BatchNormalization):
        names = ["gamma", "beta", "moving_mean", "moving_variance"]
    elif layer.weights:
        names = ["kernel", "bias"]
    else:
        continue
    layer.set_weights([tensors[f"{prefix}.{n}"] for n in names])

def idx(file):
    b = gzip.open(f"{data}/{file}").read()
    if struct.unpack(">I", b[:4])[0] == 0x801:
        return np.frombuffer(b[8:], np.uint8)
    n, r, c = struct.unpack(">III", b[4:16])
    return np.frombuffer(b[16:], np.uint8).reshape(n, r, c)

x = ((idx("t10k-images-idx3-ubyte.gz").astype(np.float32) - 127.5) / 127.5)[..., None]
y = idx("t10k-labels-idx1-ubyte.gz")
logits = trunk.predict(x, batch_size=1000, verbose=0)
print(f"Keras, checkpoint weights: test accuracy {100 * np.mean(logits.argmax(1) == y):.2f}%")

if len(sys.argv) > 5:
    from PIL import Image
    png, count, seed = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

    def mix(x):
        x = (x ^ (x >> 16)) * 0x7FEB352D & 0xFFFFFFFF
        x = (x ^ (x >> 15)) * 0x846CA68B & 0xFFFFFFFF
        return x ^ (x >> 16)

    def bits(stream, index):  # shaders/common.wgsl rng_u32 with counter 0
        key = mix(seed ^ mix((stream + 0x9E3779B9) & 0xFFFFFFFF))
        return mix((key + mix(index)) & 0xFFFFFFFF)

    n = range(count * 100)
    u1 = np.array([((bits(0, 2 * k) >> 8) + 1) / 16777216.0 for k in n])
    u2 = np.array([(bits(0, 2 * k + 1) >> 8) / 16777216.0 for k in n])
    z = (np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)).astype(np.float32).reshape(count, 100)

    generator = keras.Sequential([
        keras.Input((100,)), layers.Dense(7 * 7 * 256, name="dense"), layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, 3, strides=2, padding="same", name="conv_transpose_1"),
        layers.BatchNormalization(epsilon=1e-3, name="batch_norm_1"), layers.LeakyReLU(0.01),
        layers.Conv2DTranspose(64, 3, strides=1, padding="same", name="conv_transpose_2"),
        layers.BatchNormalization(epsilon=1e-3, name="batch_norm_2"), layers.LeakyReLU(0.01),
        layers.Conv2DTranspose(1, 3, strides=2, padding="same", name="conv_transpose_3"),
        layers.Activation("tanh")])
    for layer in generator.layers:
        prefix = f"generator.{layer.name}"
        if isinstance(layer, layers.BatchNormalization):
            layer.set_weights([tensors[f"{prefix}.{n}"]
                               for n in ["gamma", "beta", "moving_mean", "moving_variance"]])
        elif layer.weights:
            layer.set_weights([tensors[f"{prefix}.kernel"], tensors[f"{prefix}.bias"]])
    images = generator.predict(z, verbose=0)[..., 0]
    grey = np.round((np.clip(images, -1, 1) + 1) * 127.5)
    grid = np.asarray(Image.open(png).convert("L"), dtype=np.float64)
    columns = int(np.ceil(np.sqrt(count)))
    cell = 2 * 28 + 2  # digits are drawn 2x with a 2-pixel border (src/report/images.rs)
    worst = 0.0
    for k in range(count):
        top, left = 2 + (k // columns) * cell, 2 + (k % columns) * cell
        ours = grid[top:top + 56:2, left:left + 56:2]
        worst = max(worst, np.abs(ours - grey[k]).max())
    print(f"Keras generator vs sgan-gpu sample: largest grey-level difference {worst:.0f}")
