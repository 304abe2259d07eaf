import torch

class Autoencoder(torch.nn.Module)
    pass
